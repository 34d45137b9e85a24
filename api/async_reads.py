"""The hottest single-statement reads on the event loop, over psycopg's async connections.

A read done in a worker thread pays a thread hop on top of its round trip to the database (a
third of a millisecond here, measured), and a PHI read makes two such trips (the chart, then the
ledger append). The chart statement is one prebuilt, parameterised SELECT, so it runs here instead:
compiled once to the driver's SQL, sent on an autocommit connection from a small per-event-loop
pool, answered as a row with named columns like SQLAlchemy's.

A connection that fails is closed, never reused; a statement that fails on a kept connection (the
server restarted since) is retried once on a fresh one, then the caller gets ``ReadUnavailable``
(the API answers 503). Connections belong to the event loop that opened them.
"""
from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row

#: How these connections show in ``pg_stat_activity``.
APPLICATION_NAME = "hms-api-reads"
#: Connections kept open per event loop (more may be open at once; the extra ones are closed after use).
KEEP = 4


class ReadUnavailable(Exception):
    """The database could not be reached for the read."""


@dataclass(frozen=True)
class CompiledRead:
    """A SELECT compiled once for the driver: its SQL and the parameters it always carries."""

    sql: str
    fixed: dict[str, Any]

    @classmethod
    def of(cls, statement: sa.Select, dialect: sa.Dialect, *parameters: str) -> CompiledRead:
        """Compile ``statement``; ``parameters`` name the bind parameters each call gives."""
        state = statement.compile(dialect=dialect).construct_expanded_state(dict.fromkeys(parameters))
        return cls(state.statement, {k: v for k, v in state.parameters.items() if k not in parameters})


class AsyncReads:
    """A small pool of autocommit async connections per event loop, for ``CompiledRead`` statements."""

    def __init__(self, engine: sa.Engine) -> None:
        self.dialect = engine.dialect
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[psycopg.AsyncConnection]] = (
            weakref.WeakKeyDictionary())

    async def first(self, read: CompiledRead, **params: Any) -> Any:
        """The first row (columns by name) or None."""
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        for attempt in (0, 1):
            conn = idle.pop() if idle and attempt == 0 else None
            try:
                if conn is None:
                    conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True,
                                                                 row_factory=namedtuple_row,
                                                                 application_name=APPLICATION_NAME)
                cursor = await conn.execute(read.sql, {**read.fixed, **params})
                row = await cursor.fetchone()
            except psycopg.OperationalError as exc:
                if conn is not None:
                    await conn.close()
                if attempt == 1:
                    raise ReadUnavailable("the database is unavailable") from exc
                continue
            except BaseException:
                if conn is not None:
                    await conn.close()
                raise
            if len(idle) < KEEP:
                idle.append(conn)
            else:
                await conn.close()
            return row
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        """Close this event loop's kept connections."""
        loop = asyncio.get_running_loop()
        for conn in self._idle.pop(loop, []):
            await conn.close()

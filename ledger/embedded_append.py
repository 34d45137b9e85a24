"""The embedded ledger's write path: one batch of events, one statement, one round trip.

Appends are the ledger's hot path (every API request makes one), and on a busy machine the cost of a
batch is dominated by round trips, not rows. So the whole append is one call of ``audit.append_batch``
(``ledger.schema.APPEND_FUNCTION``) in autocommit mode: the server takes the append lock, reads the log's
size, keeps already recorded events, numbers the fresh ones and computes the tree nodes they close, then
inserts entries and nodes and commits — the caller's events go in as arrays (with their canonical bytes and
leaf hashes, computed here) and each event's index comes back. A batch of a thousand events costs one
statement like a batch of one; an event id recorded with other bytes refuses the whole batch (HM409).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import psycopg
import sqlalchemy as sa

from ledger import merkle
from ledger.base import LedgerConflict, LedgerError, LedgerUnavailable
from ledger.model import AuditEvent, LedgerEntry

COLUMNS = (
    "event_id", "recorded", "actor", "role", "action", "subtype", "outcome", "resource_type", "resource_id",
    "patient_id", "purpose", "decision", "reason", "source", "break_glass", "detail_hash",
)
_TYPES = {"recorded": "timestamptz", "break_glass": "boolean", "canonical": "bytea", "leaf_hash": "bytea"}
_APPEND = (
    "SELECT r_pos, r_idx, r_canonical, r_leaf FROM audit.append_batch("
    + ", ".join(f"%({c})s::{_TYPES.get(c, 'text')}[]" for c in (*COLUMNS, "canonical", "leaf_hash"))
    + ")"
)
#: SQLSTATEs raised by ``audit.append_batch`` (``ledger.schema.APPEND_FUNCTION``).
CONFLICT, MISSING_NODE = "HM409", "HM500"


def entry_of(row: Any) -> LedgerEntry:
    """A stored row as an entry; a row whose bytes do not parse is corruption for verify() to explain."""
    try:
        event = AuditEvent.from_canonical(bytes(row.canonical))
    except ValueError as exc:
        raise LedgerError(f"entry {row.idx} is corrupt; run verify()") from exc
    return LedgerEntry(row.idx, event, bytes(row.leaf_hash))


def _transaction(pg: psycopg.Connection, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
    """One statement in autocommit mode: its own transaction, committed (durably) when it returns."""
    datas = [e.canonical_bytes() for e in events]
    leaves = [merkle.leaf_hash(d) for d in datas]
    params: dict[str, list[Any]] = {c: [getattr(e, c) for e in events] for c in COLUMNS}
    params.update(canonical=datas, leaf_hash=leaves)
    try:
        rows = pg.execute(_APPEND, params).fetchall()
    except psycopg.Error as exc:
        if exc.sqlstate == CONFLICT:
            raise LedgerConflict(str(exc.diag.message_primary)) from None
        if exc.sqlstate == MISSING_NODE:
            raise LedgerError(str(exc.diag.message_primary)) from None
        raise
    out: list[LedgerEntry] = [None] * len(events)  # type: ignore[list-item]
    for pos, idx, canonical, leaf in rows:
        i = pos - 1
        if canonical is None:  # written now (or earlier in this batch): the caller's own bytes
            out[i] = LedgerEntry(idx, events[i], leaves[i])
        else:  # recorded before, with the same bytes: the stored entry
            out[i] = entry_of(_Stored(idx, canonical, leaf))
    return out


class _Stored(NamedTuple):
    idx: int
    canonical: bytes
    leaf_hash: bytes


def append_batch(engine: sa.Engine, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
    """Append ``events`` atomically, in order, idempotent by event id; returns once committed."""
    try:
        raw = engine.raw_connection()
    except (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError) as exc:
        raise LedgerUnavailable("audit ledger database unavailable") from exc
    pg: psycopg.Connection = raw.driver_connection  # type: ignore[assignment]
    try:
        # Autocommit with explicit BEGIN/COMMIT so both can travel in a pipeline with other statements.
        raw.rollback()
        pg.autocommit = True
        try:
            return _transaction(pg, events)
        except BaseException:
            if not pg.closed:
                pg.execute("ROLLBACK")
            raise
        finally:
            if not pg.closed:
                pg.autocommit = False
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raw.invalidate()
        raise LedgerUnavailable("audit ledger database unavailable") from exc
    except psycopg.Error as exc:
        raise LedgerError(f"append refused by the database: {type(exc).__name__}") from exc
    finally:
        raw.close()

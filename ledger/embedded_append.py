"""The embedded ledger's write path: one batch of events, one transaction, three round trips.

Appends are the ledger's hot path (every API request makes one), and on a busy machine the cost of a
batch is dominated by round trips, not rows. So this path talks to psycopg directly in pipeline mode:
``BEGIN``, the append lock and the read of the log's size go out together (the server runs them in
order, so the size is read after the lock is held); the sibling nodes the batch needs are read; then
both inserts and ``COMMIT`` go out together. Rows are sent as arrays and unnested server-side, so a
batch of a thousand events costs the same number of statements as a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row

from ledger import merkle
from ledger.base import LedgerConflict, LedgerError, LedgerUnavailable
from ledger.model import AuditEvent, LedgerEntry
from ledger.schema import APPEND_LOCK

COLUMNS = (
    "event_id", "recorded", "actor", "role", "action", "subtype", "outcome", "resource_type", "resource_id",
    "patient_id", "purpose", "decision", "reason", "source", "break_glass", "detail_hash",
)
_TYPES = {"recorded": "timestamptz", "break_glass": "boolean", "idx": "bigint", "canonical": "bytea",
          "leaf_hash": "bytea"}
_ENTRY_COLS = ("idx", *COLUMNS, "canonical", "leaf_hash")
_INSERT_ENTRIES = (
    f"INSERT INTO audit.entries ({', '.join(_ENTRY_COLS)}) SELECT * FROM unnest("
    + ", ".join(f"%({c})s::{_TYPES.get(c, 'text')}[]" for c in _ENTRY_COLS)
    + ")"
)
_INSERT_NODES = (
    "INSERT INTO audit.nodes (level, idx, hash) "
    "SELECT * FROM unnest(%(level)s::smallint[], %(idx)s::bigint[], %(hash)s::bytea[])"
)
_SIZE_AND_KNOWN = (
    "WITH s AS (SELECT coalesce(max(idx) + 1, 0) AS size FROM audit.entries) "
    f"SELECT s.size, e.idx, e.canonical, e.leaf_hash, {', '.join('e.' + c for c in COLUMNS)} "
    "FROM s LEFT JOIN audit.entries e ON e.event_id = ANY(%(ids)s::text[])"
)
_FETCH_NODES = (
    "SELECT n.level, n.idx, n.hash FROM audit.nodes n "
    "JOIN unnest(%(levels)s::smallint[], %(idxs)s::bigint[]) AS k(level, idx) "
    "ON n.level = k.level AND n.idx = k.idx"
)


def entry_of(row: Any) -> LedgerEntry:
    """A stored row as an entry; a row whose bytes do not parse is corruption for verify() to explain."""
    try:
        event = AuditEvent.from_canonical(bytes(row.canonical))
    except ValueError as exc:
        raise LedgerError(f"entry {row.idx} is corrupt; run verify()") from exc
    return LedgerEntry(row.idx, event, bytes(row.leaf_hash))


def _plan(events: Sequence[AuditEvent], start: int, known: dict[str, LedgerEntry]):  # noqa: ANN202
    """Entries for every event (existing ones for known ids) and the fresh ones with their bytes."""
    out: list[LedgerEntry] = []
    fresh: list[tuple[LedgerEntry, bytes]] = []
    for event in events:
        data = event.canonical_bytes()
        entry = known.get(event.event_id)
        if entry is None:
            entry = LedgerEntry(start + len(fresh), event, merkle.leaf_hash(data))
            known[event.event_id] = entry
            fresh.append((entry, data))
        elif entry.event != event and entry.event.canonical_bytes() != data:
            raise LedgerConflict(f"event_id {event.event_id} already recorded with different content")
        out.append(entry)
    return out, fresh


def _rows(fresh: list[tuple[LedgerEntry, bytes]], nodes: dict[merkle.NodeKey, bytes]):  # noqa: ANN202
    columns: dict[str, list[Any]] = {c: [getattr(e.event, c) for e, _ in fresh] for c in COLUMNS}
    columns.update(idx=[e.index for e, _ in fresh], canonical=[d for _, d in fresh],
                   leaf_hash=[e.leaf_hash for e, _ in fresh])
    new_nodes: dict[str, list[Any]] = {"level": [], "idx": [], "hash": []}
    for entry, _ in fresh:
        for level, idx, h in merkle.append_nodes(entry.index, entry.leaf_hash, lambda lv, ix: nodes[(lv, ix)]):
            nodes[(level, idx)] = h
            new_nodes["level"].append(level)
            new_nodes["idx"].append(idx)
            new_nodes["hash"].append(h)
    return columns, new_nodes


def _transaction(pg: psycopg.Connection, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
    ids = list({e.event_id for e in events})
    with pg.pipeline(), pg.cursor(row_factory=namedtuple_row) as cur:
        pg.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        pg.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
        rows = cur.execute(_SIZE_AND_KNOWN, {"ids": ids}).fetchall()
    start = rows[0].size
    out, fresh = _plan(events, start, {r.event_id: entry_of(r) for r in rows if r.idx is not None})
    if not fresh:
        pg.execute("ROLLBACK")
        return out
    # Siblings from before this batch come from storage in one query; later ones from the batch itself.
    wanted = sorted({k for e, _ in fresh for k in merkle.append_siblings(e.index) if (k[1] + 1) << k[0] <= start})
    nodes: dict[merkle.NodeKey, bytes] = {}
    if wanted:
        found = pg.execute(_FETCH_NODES, {"levels": [k[0] for k in wanted], "idxs": [k[1] for k in wanted]})
        nodes = {(lv, ix): bytes(h) for lv, ix, h in found}
    try:
        columns, new_nodes = _rows(fresh, nodes)
    except KeyError as exc:
        raise LedgerError(f"tree node {exc} missing; run verify()") from None
    with pg.pipeline():
        pg.execute(_INSERT_ENTRIES, columns)
        pg.execute(_INSERT_NODES, new_nodes)
        pg.execute("COMMIT")
    return out


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

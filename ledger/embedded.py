"""The embedded ledger: an RFC 9162 Merkle log in PostgreSQL's ``audit`` schema.

Appends serialise on a transaction-scoped advisory lock, so indices are gap-free and ordered however
many processes append; each append is one short transaction (lock, read, insert entry and nodes).
Every perfect-subtree hash is stored when it completes, so roots and proofs never rescan the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger import checks, merkle
from ledger.base import LedgerConflict, LedgerError, LedgerUnavailable
from ledger.model import (
    AuditEvent,
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    SignedTreeHead,
    VerifyReport,
)
from ledger.schema import APPEND_LOCK, install_schema

__all__ = ["EmbeddedLedger", "install_schema"]

T = TypeVar("T")
_COLUMNS = (
    "event_id",
    "recorded",
    "actor",
    "role",
    "action",
    "subtype",
    "outcome",
    "resource_type",
    "resource_id",
    "patient_id",
    "purpose",
    "decision",
    "reason",
    "source",
    "break_glass",
    "detail_hash",
)
_ENTRY_SELECT = f"SELECT idx, canonical, leaf_hash, {', '.join(_COLUMNS)} FROM audit.entries"
_INSERT_ENTRY = sa.text(
    f"INSERT INTO audit.entries (idx, {', '.join(_COLUMNS)}, canonical, leaf_hash) "
    f"VALUES (:idx, {', '.join(':' + c for c in _COLUMNS)}, :canonical, :leaf_hash)"
)
_INSERT_NODE = sa.text("INSERT INTO audit.nodes (level, idx, hash) VALUES (:level, :idx, :hash)")
_SIZE = sa.text("SELECT coalesce(max(idx) + 1, 0) FROM audit.entries")


def _entry(row: Any) -> LedgerEntry:
    try:
        event = AuditEvent.from_canonical(bytes(row.canonical))
    except ValueError as exc:
        raise LedgerError(f"entry {row.idx} is corrupt; run verify()") from exc
    return LedgerEntry(row.idx, event, bytes(row.leaf_hash))


def _columns_event(row: Any) -> AuditEvent:
    return AuditEvent(**{c: getattr(row, c) for c in _COLUMNS})


class EmbeddedLedger:
    """:class:`ledger.base.Ledger` on PostgreSQL; ``install_schema`` must have run on the database."""

    def __init__(
        self,
        engine: sa.Engine,
        signing_key: Ed25519PrivateKey,
        key_id: str,
        *,
        trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    ) -> None:
        # READ COMMITTED whatever the engine's default: after taking the append lock each statement
        # must see the previous holder's committed rows.
        self._engine = engine.execution_options(isolation_level="READ COMMITTED")
        self._snapshot_engine = engine.execution_options(isolation_level="REPEATABLE READ")
        self._key = signing_key
        self._key_id = key_id
        self._keys = {**(trusted_keys or {}), key_id: signing_key.public_key()}

    @contextmanager
    def _tx(self, engine: sa.Engine | None = None) -> Iterator[sa.Connection]:
        try:
            with (engine or self._engine).begin() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise LedgerUnavailable("audit ledger database unavailable") from exc

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def append(self, event: AuditEvent) -> LedgerEntry:
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        if not events:
            return []
        canonical = [e.canonical_bytes() for e in events]
        with self._tx() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK})
            rows = conn.execute(
                sa.text(f"{_ENTRY_SELECT} WHERE event_id = ANY(:ids)"),
                {"ids": list({e.event_id for e in events})},
            )
            known = {row.event_id: _entry(row) for row in rows}
            start = conn.execute(_SIZE).scalar_one()
            out: list[LedgerEntry] = []
            fresh: list[LedgerEntry] = []
            for event, data in zip(events, canonical, strict=True):
                entry = known.get(event.event_id)
                if entry is None:
                    entry = LedgerEntry(start + len(fresh), event, merkle.leaf_hash(data))
                    known[event.event_id] = entry
                    fresh.append(entry)
                elif entry.event.canonical_bytes() != data:
                    raise LedgerConflict(f"event_id {event.event_id} already recorded with different content")
                out.append(entry)
            if fresh:
                self._insert(conn, start, fresh)
        return out

    def _insert(self, conn: sa.Connection, start: int, fresh: list[LedgerEntry]) -> None:
        # Siblings from before this batch come from storage in one query; later ones from the batch itself.
        wanted = {k for e in fresh for k in merkle.append_siblings(e.index) if (k[1] + 1) << k[0] <= start}
        nodes = self._fetch_nodes(conn, wanted)
        new_nodes = []
        for entry in fresh:
            for level, idx, h in merkle.append_nodes(
                entry.index, entry.leaf_hash, lambda lv, ix: nodes[(lv, ix)]
            ):
                nodes[(level, idx)] = h
                new_nodes.append({"level": level, "idx": idx, "hash": h})
        conn.execute(
            _INSERT_ENTRY,
            [
                {
                    "idx": e.index,
                    **{c: getattr(e.event, c) for c in _COLUMNS},
                    "canonical": e.event.canonical_bytes(),
                    "leaf_hash": e.leaf_hash,
                }
                for e in fresh
            ],
        )
        conn.execute(_INSERT_NODE, new_nodes)

    @staticmethod
    def _fetch_nodes(conn: sa.Connection, keys: set[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        if not keys:
            return {}
        levels, idxs = zip(*sorted(keys), strict=True)
        rows = conn.execute(
            sa.text(
                "SELECT n.level, n.idx, n.hash FROM audit.nodes n "
                "JOIN unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[])) AS k(level, idx) "
                "ON n.level = k.level AND n.idx = k.idx"
            ),
            {"levels": list(levels), "idxs": list(idxs)},
        )
        return {(r.level, r.idx): bytes(r.hash) for r in rows}

    def _with_nodes(self, conn: sa.Connection, fn: Callable[..., T], *args: int) -> T:
        """Run a merkle function after fetching, in one query, every node it will look up."""
        nodes = self._fetch_nodes(conn, merkle.required_nodes(fn, *args))

        def lookup(level: int, idx: int) -> bytes:
            try:
                return nodes[(level, idx)]
            except KeyError:
                raise LedgerError(f"tree node ({level}, {idx}) missing; run verify()") from None

        return fn(*args, lookup)

    def size(self) -> int:
        with self._tx() as conn:
            return conn.execute(_SIZE).scalar_one()

    def get(self, index: int) -> LedgerEntry:
        with self._tx() as conn:
            row = conn.execute(sa.text(f"{_ENTRY_SELECT} WHERE idx = :i"), {"i": index}).first()
        if row is None:
            raise LedgerError(f"no entry {index}")
        return _entry(row)

    def _checked_size(self, conn: sa.Connection, *sizes: int) -> int:
        current = conn.execute(_SIZE).scalar_one()
        if any(not 0 <= s <= current for s in sizes):
            raise LedgerError(f"tree size out of range: the log has {current} entries")
        return current

    def signed_head(self, tree_size: int | None = None) -> SignedTreeHead:
        with self._tx() as conn:
            current = self._checked_size(conn, *(() if tree_size is None else (tree_size,)))
            size = current if tree_size is None else tree_size
            row = conn.execute(
                sa.text(
                    "SELECT tree_size, root_hash, ts, key_id, signature FROM audit.tree_heads "
                    "WHERE tree_size = :s AND key_id = :k ORDER BY id DESC LIMIT 1"
                ),
                {"s": size, "k": self._key_id},
            ).first()
            if row is not None:
                return SignedTreeHead(
                    row.tree_size, bytes(row.root_hash), row.ts, row.key_id, bytes(row.signature)
                )
            root = self._with_nodes(conn, merkle.root, size)
            unsigned = SignedTreeHead(size, root, datetime.now(UTC), self._key_id, b"")
            head = SignedTreeHead(
                size, root, unsigned.timestamp, self._key_id, self._key.sign(unsigned.signed_bytes())
            )
            conn.execute(
                sa.text(
                    "INSERT INTO audit.tree_heads (tree_size, root_hash, ts, key_id, signature) "
                    "VALUES (:s, :r, :t, :k, :sig)"
                ),
                {"s": size, "r": root, "t": head.timestamp, "k": self._key_id, "sig": head.signature},
            )
            return head

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        if not 0 <= index < tree_size:
            raise LedgerError("index must be below tree_size")
        with self._tx() as conn:
            self._checked_size(conn, tree_size)
            return InclusionProof(
                index, tree_size, self._with_nodes(conn, merkle.inclusion_path, index, tree_size)
            )

    def consistency_proof(self, old_size: int, new_size: int) -> ConsistencyProof:
        if not 0 <= old_size <= new_size:
            raise LedgerError("need 0 <= old_size <= new_size")
        with self._tx() as conn:
            self._checked_size(conn, new_size)
            path = self._with_nodes(conn, merkle.consistency_path, old_size, new_size)
            return ConsistencyProof(old_size, new_size, path)

    def query(
        self,
        patient_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[LedgerEntry]:
        if any(t is not None and t.tzinfo is None for t in (since, until)):
            raise ValueError("since and until must be timezone-aware")
        filters = {
            "patient_id = :patient_id": patient_id,
            "actor = :actor": actor,
            "action = :action": action,
            "recorded >= :since": since,
            "recorded < :until": until,
        }
        params = {
            "patient_id": patient_id,
            "actor": actor,
            "action": action,
            "since": since,
            "until": until,
            "limit": max(0, limit),
            "offset": max(0, offset),
        }
        where = " AND ".join(clause for clause, value in filters.items() if value is not None) or "TRUE"
        with self._tx() as conn:
            rows = conn.execute(
                sa.text(f"{_ENTRY_SELECT} WHERE {where} ORDER BY idx LIMIT :limit OFFSET :offset"), params
            )
            return [_entry(row) for row in rows]

    def verify(self) -> VerifyReport:
        problems: list[str] = []
        with self._tx(self._snapshot_engine) as conn:
            streaming = conn.execution_options(stream_results=True, yield_per=2000)
            checker = checks.EntryChecker(problems)
            entries = streaming.execute(sa.text(f"{_ENTRY_SELECT} ORDER BY idx"))
            leaves = checker.leaves(self._stored(row, problems) for row in entries)

            def stored_level(level: int) -> Iterator[tuple[int, bytes]]:
                rows = streaming.execute(
                    sa.text("SELECT idx, hash FROM audit.nodes WHERE level = :l ORDER BY idx"), {"l": level}
                )
                return ((r.idx, bytes(r.hash)) for r in rows)

            checks.check_tree(leaves, stored_level, problems)
            heads = [
                SignedTreeHead(r.tree_size, bytes(r.root_hash), r.ts, r.key_id, bytes(r.signature))
                for r in conn.execute(
                    sa.text(
                        "SELECT tree_size, root_hash, ts, key_id, signature FROM audit.tree_heads ORDER BY id"
                    )
                )
            ]
            root_at = lambda size: self._with_nodes(conn, merkle.root, size)  # noqa: E731
            checks.check_heads(heads, checker.size, self._keys, root_at, problems)
        return VerifyReport(not problems, checker.size, checks.finish(problems))

    @staticmethod
    def _stored(row: Any, problems: list[str]) -> checks.StoredEntry:
        try:
            columns = _columns_event(row)
        except (ValueError, TypeError) as exc:
            problems.append(f"entry {row.idx}: stored columns are not a valid audit event ({exc})")
            columns = None
        return checks.StoredEntry(row.idx, bytes(row.canonical), bytes(row.leaf_hash), columns)

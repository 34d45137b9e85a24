"""The embedded ledger: an RFC 9162 Merkle log in PostgreSQL's ``audit`` schema.

Appends serialise on a transaction-scoped advisory lock, so indices are gap-free and ordered however
many processes append. Within a process, concurrent appends are group-committed (``group_commit.py``):
one transaction (lock, read, insert entries and nodes) carries every append waiting at that moment.
Every perfect-subtree hash is stored when it completes, so roots and proofs never rescan the log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger import checks, merkle
from ledger.base import LedgerError, LedgerUnavailable
from ledger.embedded_append import COLUMNS, append_batch, entry_of
from ledger.group_commit import GroupCommitter
from ledger.model import (
    AuditEvent,
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    SignedTreeHead,
    VerifyReport,
)
from ledger.schema import install_schema

__all__ = ["EmbeddedLedger", "install_schema"]

T = TypeVar("T")
_COLUMNS = COLUMNS
_ENTRY_SELECT = f"SELECT idx, canonical, leaf_hash, {', '.join(_COLUMNS)} FROM audit.entries"
_SIZE = sa.text("SELECT coalesce(max(idx) + 1, 0) FROM audit.entries")


_entry = entry_of


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
        group_commit: bool = True,
        max_batch: int = 2000,
        publish_interval: float | None = None,
    ) -> None:
        """``group_commit=False`` makes every append its own transaction (the benchmark's baseline);
        ``publish_interval`` (seconds) starts a :class:`ledger.publisher.HeadPublisher` on the first
        append, so a process that writes also signs heads while the log grows."""
        # READ COMMITTED whatever the engine's default: after taking the append lock each statement
        # must see the previous holder's committed rows.
        self._engine = engine.execution_options(isolation_level="READ COMMITTED")
        self._snapshot_engine = engine.execution_options(isolation_level="REPEATABLE READ")
        self._key = signing_key
        self._key_id = key_id
        self._keys = {**(trusted_keys or {}), key_id: signing_key.public_key()}
        self._committer = GroupCommitter(self._append_tx, max_batch=max_batch) if group_commit else None
        self._publish_interval = publish_interval
        self._publisher: Any = None
        self._publisher_lock = threading.Lock()

    @property
    def committed_batches(self) -> int:
        """Transactions group commit has used so far (0 without group commit)."""
        return self._committer.batches if self._committer else 0

    def _ensure_publisher(self) -> None:
        if self._publish_interval is None or self._publisher is not None:
            return
        from ledger.publisher import HeadPublisher

        with self._publisher_lock:
            if self._publisher is None:
                self._publisher = HeadPublisher(self, self._publish_interval).start()

    def close(self) -> None:
        """Stop the head publisher, signing a last head if the log grew since the previous one."""
        with self._publisher_lock:
            publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.stop()

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
        self._ensure_publisher()
        if self._committer is not None:
            return self._committer.submit(events)
        return self._append_tx(events)

    def _append_tx(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        """Append in one transaction under the append lock; idempotent by event id."""
        return append_batch(self._engine, events)

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
            root = self._with_nodes(conn, merkle.root, size)
            # A recorded head is reused only while the log still matches it: handing out an old head over
            # rewritten data would hide the rewrite from every client checkpoint.
            if row is not None and bytes(row.root_hash) == root:
                return SignedTreeHead(
                    row.tree_size, bytes(row.root_hash), row.ts, row.key_id, bytes(row.signature)
                )
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

    def inclusion_proofs(self, indices: Sequence[int], tree_size: int) -> list[InclusionProof]:
        """Proofs for many entries against one tree, their nodes fetched in a single query."""
        if any(not 0 <= i < tree_size for i in indices):
            raise LedgerError("index must be below tree_size")
        with self._tx() as conn:
            self._checked_size(conn, tree_size)
            wanted: set[merkle.NodeKey] = set()
            for i in indices:
                wanted |= merkle.required_nodes(merkle.inclusion_path, i, tree_size)
            nodes = self._fetch_nodes(conn, wanted)
        if len(nodes) != len(wanted):
            raise LedgerError("tree nodes missing; run verify()")
        lookup = lambda level, idx: nodes[(level, idx)]  # noqa: E731
        return [InclusionProof(i, tree_size, merkle.inclusion_path(i, tree_size, lookup)) for i in indices]

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

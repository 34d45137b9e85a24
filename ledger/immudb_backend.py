"""The ledger on immudb (scale-out), serving the same protocol and the same RFC 9162 proofs.

immudb already makes history tamper-evident; on top of it this keeps the ledger's own Merkle log, so
auditors verify entries with the same proofs and signed heads whichever backend wrote them.
Key layout (values in brackets)::

    entry:{index:020d}                    [canonical bytes]
    event:{event_id}                      [index]
    node:{level:02d}:{idx:020d}           [perfect-subtree hash; level 0 = leaf hash]
    head:{size:020d}:{key_id}             [signed tree head JSON]
    ix:{field}:{len}:{value}:{index:020d} [recorded timestamp]  for patient, actor, action

Writes are verified and conditional (``keyMustNotExist`` on the entry and event keys), so concurrent
writers anywhere never share an index; reads of entries and nodes are verified against the client's
trusted state, persisted under ``state_dir`` so a restarted process still detects a rewound server.
``immudb-py`` is imported lazily: the embedded deployment never needs it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger import checks, merkle
from ledger.base import LedgerConflict, LedgerError, LedgerUnavailable
from ledger.immudb_state import FileRootService
from ledger.immudb_verified import PreconditionFailed, verified_set_all
from ledger.keys import load_or_create_signing_key
from ledger.model import (
    AuditEvent,
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    SignedTreeHead,
    VerifyReport,
    format_ts,
    parse_ts,
)

T = TypeVar("T")
_RETRIES = 50
_INDEXED = ("patient_id", "actor", "action")


def _entry_key(index: int) -> bytes:
    return f"entry:{index:020d}".encode()


def _node_key(level: int, idx: int) -> bytes:
    return f"node:{level:02d}:{idx:020d}".encode()


def _ix_prefix(name: str, value: str) -> bytes:
    # Length-prefixed so that one value can never be a key prefix of another.
    return f"ix:{name}:{len(value)}:{value}:".encode()


def create_database(url: str, user: str, password: str, database: str) -> None:
    """Create an immudb database if it does not exist (deployment and tests; needs an admin user)."""
    from immudb import ImmudbClient
    from immudb.datatypesv2 import DatabaseSettingsV2

    client = ImmudbClient(url)
    client.login(user, password)
    client.createDatabaseV2(database, DatabaseSettingsV2(), ifNotExists=True)
    client.logout()


class ImmudbLedger:
    """:class:`ledger.base.Ledger` on immudb; the signing key defaults to one kept in ``state_dir``."""

    _SCAN_PAGE = 1000  # immudb's default maximum result size

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        database: str,
        state_dir: Path,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        key_id: str | None = None,
        trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
        server_public_key: Path | None = None,
    ) -> None:
        from immudb import ImmudbClient

        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if signing_key is None or key_id is None:
            signing_key, key_id = load_or_create_signing_key(state_dir / "ledger-signing.pem")
        self._key, self._key_id = signing_key, key_id
        self._keys = {**(trusted_keys or {}), key_id: signing_key.public_key()}
        # The client and its trusted state are not thread-safe; one lock serialises their use.
        self._lock = threading.RLock()
        rs = FileRootService(state_dir / f"{database}.state.json")
        self._client = ImmudbClient(
            url, rs=rs, publicKeyFile=str(server_public_key) if server_public_key else None
        )
        self._call(lambda: self._client.login(user, password, database=database.encode()))

    def _call(self, fn: Callable[[], T]) -> T:
        import grpc
        from immudb.exceptions import ErrCorruptedData

        with self._lock:
            try:
                return fn()
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise LedgerUnavailable("immudb unavailable") from exc
                details = (exc.details() or "") if hasattr(exc, "details") else ""
                if "key not found" in details:
                    raise KeyError("key not found") from exc
                raise LedgerError(f"immudb refused the request: {code}") from exc
            except ErrCorruptedData as exc:
                raise LedgerError(
                    "immudb returned data that fails verification against the trusted state"
                ) from exc

    def _get(self, key: bytes) -> bytes | None:
        try:
            return self._call(lambda: self._client.verifiedGet(key)).value
        except KeyError:
            return None

    def _scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """All keys under a prefix in key order, paging past the server's result limit."""
        seek = b""
        while True:
            page = self._call(lambda s=seek: self._client.scan(s, prefix, False, self._SCAN_PAGE))
            yield from page.items()
            if len(page) < self._SCAN_PAGE:
                return
            seek = next(reversed(page))

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def size(self) -> int:
        last = self._call(lambda: self._client.scan(b"", b"entry:", True, 1))
        return int(next(iter(last)).decode().split(":")[1]) + 1 if last else 0

    def _entry_at(self, index: int) -> LedgerEntry | None:
        data = self._get(_entry_key(index))
        if data is None:
            return None
        return LedgerEntry(index, AuditEvent.from_canonical(data), merkle.leaf_hash(data))

    def get(self, index: int) -> LedgerEntry:
        entry = self._entry_at(index) if index >= 0 else None
        if entry is None:
            raise LedgerError(f"no entry {index}")
        return entry

    def append(self, event: AuditEvent) -> LedgerEntry:
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        if not events:
            return []
        for _ in range(_RETRIES):
            known: dict[str, LedgerEntry] = {}
            for event in events:
                if event.event_id not in known:
                    found = self._get(f"event:{event.event_id}".encode())
                    if found is not None:
                        known[event.event_id] = self.get(int(found))
            start = self.size()
            out, fresh = [], []
            for event in events:
                entry = known.get(event.event_id)
                if entry is None:
                    entry = known[event.event_id] = LedgerEntry(
                        start + len(fresh), event, merkle.leaf_hash(event.canonical_bytes())
                    )
                    fresh.append(entry)
                elif entry.event.canonical_bytes() != event.canonical_bytes():
                    raise LedgerConflict(f"event_id {event.event_id} already recorded with different content")
                out.append(entry)
            if not fresh:
                return out
            try:
                self._write(start, fresh)
                return out
            except PreconditionFailed:
                continue  # another writer took the index or the event; look again
        raise LedgerUnavailable("immudb append kept losing races; giving up")

    def _write(self, start: int, fresh: list[LedgerEntry]) -> None:
        nodes: dict[merkle.NodeKey, bytes] = {}

        def lookup(level: int, idx: int) -> bytes:
            if (level, idx) not in nodes:
                found = self._get(_node_key(level, idx))
                if found is None:
                    raise LedgerError(f"tree node ({level}, {idx}) missing")
                nodes[(level, idx)] = found
            return nodes[(level, idx)]

        kvs: list[tuple[bytes, bytes]] = []
        guards: list[bytes] = []
        for entry in fresh:
            event, recorded = entry.event, format_ts(entry.event.recorded).encode()
            kvs += [
                (_entry_key(entry.index), event.canonical_bytes()),
                (f"event:{event.event_id}".encode(), str(entry.index).encode()),
            ]
            guards += [kvs[-2][0], kvs[-1][0]]
            kvs += [
                (_ix_prefix(f, getattr(event, f)) + f"{entry.index:020d}".encode(), recorded)
                for f in _INDEXED
                if getattr(event, f) is not None
            ]
            for level, idx, h in merkle.append_nodes(entry.index, entry.leaf_hash, lookup):
                nodes[(level, idx)] = h
                kvs.append((_node_key(level, idx), h))
        self._call(lambda: verified_set_all(self._client, kvs, guards))

    def _lookup(self, level: int, idx: int) -> bytes:
        found = self._get(_node_key(level, idx))
        if found is None:
            raise LedgerError(f"tree node ({level}, {idx}) missing")
        return found

    def _check_sizes(self, *sizes: int) -> None:
        current = self.size()
        if any(not 0 <= s <= current for s in sizes):
            raise LedgerError(f"tree size out of range: the log has {current} entries")

    def signed_head(self, tree_size: int | None = None) -> SignedTreeHead:
        size = self.size() if tree_size is None else tree_size
        self._check_sizes(size)
        key = f"head:{size:020d}:{self._key_id}".encode()
        stored = self._get(key)
        if stored is not None:
            return SignedTreeHead.from_dict(json.loads(stored))
        root = merkle.root(size, self._lookup)
        unsigned = SignedTreeHead(size, root, datetime.now(UTC), self._key_id, b"")
        head = SignedTreeHead(
            size, root, unsigned.timestamp, self._key_id, self._key.sign(unsigned.signed_bytes())
        )
        try:
            self._call(
                lambda: verified_set_all(self._client, [(key, json.dumps(head.to_dict()).encode())], [key])
            )
        except PreconditionFailed:
            return self.signed_head(size)  # a concurrent caller recorded one first; use theirs
        return head

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        if not 0 <= index < tree_size:
            raise LedgerError("index must be below tree_size")
        self._check_sizes(tree_size)
        return InclusionProof(index, tree_size, merkle.inclusion_path(index, tree_size, self._lookup))

    def consistency_proof(self, old_size: int, new_size: int) -> ConsistencyProof:
        if not 0 <= old_size <= new_size:
            raise LedgerError("need 0 <= old_size <= new_size")
        self._check_sizes(new_size)
        return ConsistencyProof(old_size, new_size, merkle.consistency_path(old_size, new_size, self._lookup))

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

        def in_range(ts: datetime) -> bool:
            return (since is None or ts >= since) and (until is None or ts < until)

        wanted = {f: v for f, v in zip(_INDEXED, (patient_id, actor, action), strict=True) if v is not None}
        if wanted:
            matches: set[int] | None = None
            for name, value in wanted.items():
                found = {
                    int(k[-20:])
                    for k, ts in self._scan(_ix_prefix(name, value))
                    if in_range(parse_ts(ts.decode()))
                }
                matches = found if matches is None else matches & found
            indices = sorted(matches or ())
        else:
            indices = [
                int(k[6:])
                for k, data in self._scan(b"entry:")
                if in_range(AuditEvent.from_canonical(data).recorded)
            ]
        return [self.get(i) for i in indices[max(0, offset) : max(0, offset) + max(0, limit)]]

    def verify(self) -> VerifyReport:
        problems: list[str] = []
        checker = checks.EntryChecker(problems)
        rows = (checks.StoredEntry(int(k[6:]), v, merkle.leaf_hash(v)) for k, v in self._scan(b"entry:"))

        def stored_level(level: int) -> Iterator[tuple[int, bytes]]:
            return ((int(k[-20:]), v) for k, v in self._scan(f"node:{level:02d}:".encode()))

        checks.check_tree(checker.leaves(rows), stored_level, problems)
        for key, value in self._scan(b"event:"):
            index = int(value)
            entry = self._entry_at(index)
            if entry is None or entry.event.event_id.encode() != key[6:]:
                problems.append(
                    f"entry {index}: event-id key {key[6:].decode(errors='replace')} points at it wrongly"
                )
        heads = [SignedTreeHead.from_dict(json.loads(v)) for _, v in self._scan(b"head:")]
        checks.check_heads(heads, checker.size, self._keys, lambda s: merkle.root(s, self._lookup), problems)
        if checker.size:
            self.get(checker.size - 1)  # a verified read: the server's state still extends our trusted one
        return VerifyReport(not problems, checker.size, checks.finish(problems))

    def close(self) -> None:
        """Release the gRPC channel."""
        with self._lock:
            self._client.shutdown()

"""The immudb backend's own logic (key layout, idempotency, conflicts, queries, proofs, verify) over an
in-memory stand-in for the immudb client. The real server runs the shared contract suite when
HMS_IMMUDB_URL is set; this keeps the code exercised where no immudb server exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from ledger import immudb_backend as backend
from ledger import merkle, verify
from ledger.base import LedgerConflict, LedgerError
from ledger.immudb_verified import PreconditionFailed
from ledger.model import AuditEvent

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class _NotFound(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return "tbtree: key not found"


class FakeClient:
    """Sorted KV with keyMustNotExist preconditions, like the slice of immudb the backend uses."""

    def __init__(self, url: str, rs: object = None, publicKeyFile: str | None = None) -> None:  # noqa: N803
        self.kv: dict[bytes, bytes] = {}
        self.txs = 0

    def login(self, user: str, password: str, database: bytes = b"defaultdb") -> None:
        pass

    def verifiedGet(self, key: bytes) -> SimpleNamespace:  # noqa: N802
        if key not in self.kv:
            raise _NotFound()
        return SimpleNamespace(value=self.kv[key], verified=True)

    def scan(self, seek: bytes, prefix: bytes, desc: bool, limit: int) -> dict[bytes, bytes]:
        keys = sorted((k for k in self.kv if k.startswith(prefix)), reverse=desc)
        if seek:
            keys = [k for k in keys if (k < seek if desc else k > seek)]
        return {k: self.kv[k] for k in keys[:limit]}

    def shutdown(self) -> None:
        pass


def _fake_set_all(client: FakeClient, kvs, must_not_exist) -> int:
    if any(k in client.kv for k in must_not_exist):
        raise PreconditionFailed("precondition failed")
    client.kv.update(kvs)
    client.txs += 1
    return client.txs


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> backend.ImmudbLedger:
    import immudb

    monkeypatch.setattr(immudb, "ImmudbClient", FakeClient)
    monkeypatch.setattr(backend, "verified_set_all", _fake_set_all)
    monkeypatch.setattr(backend.ImmudbLedger, "_SCAN_PAGE", 7)  # exercise paging
    return backend.ImmudbLedger("fake:3322", "immudb", "immudb", "hms", tmp_path / "state")


def _event(n: int, **kw: object) -> AuditEvent:
    values: dict[str, object] = dict(
        event_id=f"e{n}",
        recorded=T0 + timedelta(minutes=n),
        actor=f"user-{n % 2}",
        role="nurse",
        action="R",
        subtype="patient.read",
        outcome="0",
        resource_type="Patient",
        resource_id=None,
        patient_id=f"p{n % 3}",
        purpose="TREAT",
        decision="allow",
        reason="ward",
    )
    values.update(kw)
    return AuditEvent(**values)  # type: ignore[arg-type]


def test_appends_prove_and_verify(ledger: backend.ImmudbLedger) -> None:
    events = [_event(n) for n in range(23)]
    assert [e.index for e in ledger.append_many(events[:5])] == list(range(5))
    for e in events[5:]:
        ledger.append(e)
    assert ledger.size() == 23 and ledger.get(7).event == events[7]
    old = ledger.signed_head(9)
    head = ledger.signed_head()
    assert ledger.signed_head() == head
    key = ledger.public_key()
    for i, e in enumerate(events):
        assert verify.verify_inclusion(e.canonical_bytes(), i, ledger.inclusion_proof(i, 23), head, key)
    assert verify.verify_consistency(ledger.consistency_proof(9, 23), old, head, key)
    assert head.root_hash == merkle.root(
        23, merkle.memory_lookup([merkle.leaf_hash(e.canonical_bytes()) for e in events])
    )
    report = ledger.verify()
    assert report.ok and report.tree_size == 23, report.problems


def test_idempotency_conflicts_and_lost_races(ledger: backend.ImmudbLedger) -> None:
    first = ledger.append(_event(1))
    assert ledger.append(_event(1)) == first
    with pytest.raises(LedgerConflict):
        ledger.append(_event(1, reason="other"))
    # Another writer takes index 1 between our read and our write: we retry at index 2.
    real_size = ledger.size
    calls = iter([1])

    def racing_size() -> int:
        n = next(calls, None)
        if n is not None:
            ledger._client.kv[backend._entry_key(1)] = _event(99).canonical_bytes()
        return real_size()

    ledger.size = racing_size  # type: ignore[method-assign]
    assert ledger.append(_event(2)).index == 2
    with pytest.raises(LedgerError):
        ledger.get(50)


def test_queries_and_tamper_detection(ledger: backend.ImmudbLedger) -> None:
    ledger.append_many([_event(n) for n in range(12)])
    assert [e.index for e in ledger.query(patient_id="p0")] == [0, 3, 6, 9]
    assert [e.index for e in ledger.query(patient_id="p0", actor="user-1")] == [3, 9]
    assert [
        e.index for e in ledger.query(since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=6))
    ] == [4, 5]
    assert [e.index for e in ledger.query(action="R", limit=2, offset=10)] == [10, 11]
    ledger.signed_head()
    ledger._client.kv[backend._entry_key(4)] = _event(4, actor="intruder").canonical_bytes()
    report = ledger.verify()
    assert not report.ok and any(p.startswith("entry 4:") for p in report.problems), report.problems

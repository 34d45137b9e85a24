"""Audit event canonical form and the JSON shapes of heads, proofs and reports."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import merkle, verify
from ledger.keys import key_id_for, load_or_create_signing_key, public_key_pem
from ledger.model import (
    AuditEvent,
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    SignedTreeHead,
    VerifyReport,
)

IST = timezone(timedelta(hours=5, minutes=30))


def _event(**overrides: object) -> AuditEvent:
    values: dict[str, object] = dict(
        event_id="evt-1",
        recorded=datetime(2026, 3, 1, 13, 30, 0, 120, tzinfo=IST),
        actor="nurse-medical-1",
        role="nurse",
        action="R",
        subtype="patient.read",
        outcome="0",
        resource_type="Patient",
        resource_id="pat-9",
        patient_id="pat-9",
        purpose="TREAT",
        decision="allow",
        reason="ward nurse",
    )
    values.update(overrides)
    return AuditEvent(**values)  # type: ignore[arg-type]


def test_canonical_bytes_are_sorted_compact_utf8_with_utc_microseconds() -> None:
    event = _event(reason="Überweisung", detail_hash="ab" * 32)
    data = event.canonical_bytes()
    decoded = json.loads(data)
    assert list(decoded) == sorted(decoded)
    assert b", " not in data and b": " not in data
    assert "Überweisung".encode() in data  # UTF-8, not \u escapes
    assert decoded["recorded"] == "2026-03-01T08:00:00.000120Z"
    assert decoded["break_glass"] is False and decoded["source"] == "api"
    assert AuditEvent.from_canonical(data) == event


def test_equal_instants_in_other_zones_serialise_identically() -> None:
    a = _event()
    b = _event(recorded=a.recorded.astimezone(UTC))
    assert a == b and a.canonical_bytes() == b.canonical_bytes()


def test_non_canonical_bytes_are_refused() -> None:
    data = _event().canonical_bytes()
    with pytest.raises(ValueError):
        AuditEvent.from_canonical(json.dumps(json.loads(data), indent=1).encode())
    with pytest.raises(ValueError):
        AuditEvent.from_canonical(
            data.replace(
                b'"recorded":"2026-03-01T08:00:00.000120Z"', b'"recorded":"2026-03-01T08:00:00.00012Z"'
            )
        )
    unknown = json.loads(data) | {"note": "free text"}
    with pytest.raises(ValueError):
        AuditEvent.from_dict(unknown)


@pytest.mark.parametrize(
    "bad",
    [
        {"recorded": datetime(2026, 3, 1)},
        {"action": "X"},
        {"outcome": "1"},
        {"decision": "maybe"},
        {"event_id": ""},
        {"break_glass": "yes"},
    ],
)
def test_invalid_events_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _event(**bad)


def test_values_round_trip_through_json() -> None:
    key = Ed25519PrivateKey.generate()
    event = _event(break_glass=True, purpose="ETREAT")
    entry = LedgerEntry(7, event, merkle.leaf_hash(event.canonical_bytes()))
    unsigned = SignedTreeHead(8, b"\x01" * 32, datetime.now(UTC), key_id_for(key.public_key()), b"")
    head = SignedTreeHead(
        8, unsigned.root_hash, unsigned.timestamp, unsigned.key_id, key.sign(unsigned.signed_bytes())
    )
    for value in (
        entry,
        head,
        InclusionProof(7, 8, [b"\x02" * 32]),
        ConsistencyProof(3, 8, [b"\x03" * 32]),
        VerifyReport(False, 8, ["entry 3 missing"]),
    ):
        assert type(value).from_dict(json.loads(json.dumps(value.to_dict()))) == value


def test_signed_head_signature_covers_every_field() -> None:
    key = Ed25519PrivateKey.generate()
    ts = datetime(2026, 3, 1, tzinfo=UTC)
    base = SignedTreeHead(5, b"\x01" * 32, ts, "k1", b"")
    head = SignedTreeHead(5, base.root_hash, ts, "k1", key.sign(base.signed_bytes()))
    assert head.verify(key.public_key())
    assert not head.verify(Ed25519PrivateKey.generate().public_key())
    for changed in (
        SignedTreeHead(6, head.root_hash, ts, "k1", head.signature),
        SignedTreeHead(5, b"\x02" * 32, ts, "k1", head.signature),
        SignedTreeHead(5, head.root_hash, ts + timedelta(microseconds=1), "k1", head.signature),
        SignedTreeHead(5, head.root_hash, ts, "k2", head.signature),
    ):
        assert not changed.verify(key.public_key())


def test_signing_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.pem"
    key, key_id = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, again_id = load_or_create_signing_key(path)
    assert again_id == key_id and len(key_id) == 16
    assert again.public_key() == key.public_key()
    assert verify.load_public_key(public_key_pem(key.public_key())) == key.public_key()


def test_offline_verification_of_a_small_log() -> None:
    key = Ed25519PrivateKey.generate()
    kid = key_id_for(key.public_key())
    events = [_event(event_id=f"e{i}") for i in range(6)]
    leaves = [merkle.leaf_hash(e.canonical_bytes()) for e in events]
    lookup = merkle.memory_lookup(leaves)

    def head(size: int) -> SignedTreeHead:
        h = SignedTreeHead(size, merkle.root(size, lookup), datetime.now(UTC), kid, b"")
        return SignedTreeHead(h.tree_size, h.root_hash, h.timestamp, kid, key.sign(h.signed_bytes()))

    h3, h6 = head(3), head(6)
    proof = InclusionProof(4, 6, merkle.inclusion_path(4, 6, lookup))
    assert verify.verify_inclusion(events[4].canonical_bytes(), 4, proof, h6, key.public_key())
    assert not verify.verify_inclusion(events[4].canonical_bytes(), 4, proof, h3, key.public_key())
    assert not verify.verify_inclusion(
        events[4].canonical_bytes(), 4, proof, h6, Ed25519PrivateKey.generate().public_key()
    )
    cons = ConsistencyProof(3, 6, merkle.consistency_path(3, 6, lookup))
    assert verify.verify_consistency(cons, h3, h6, key.public_key())
    assert not verify.verify_consistency(ConsistencyProof(2, 6, cons.path), h3, h6, key.public_key())

"""The ledger contract: every backend must pass this suite unchanged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ledger import merkle, verify
from ledger.base import Ledger, LedgerConflict, LedgerError
from ledger.model import ConsistencyProof, InclusionProof, SignedTreeHead

pytestmark = pytest.mark.integration


def test_append_assigns_consecutive_indices_and_reads_back(ledger: Ledger, make_event) -> None:
    events = [make_event(n) for n in range(3)]
    entries = [ledger.append(e) for e in events]
    assert [e.index for e in entries] == [0, 1, 2]
    assert ledger.size() == 3
    for entry, event in zip(entries, events, strict=True):
        assert entry.event == event
        assert entry.leaf_hash == merkle.leaf_hash(event.canonical_bytes())
        assert ledger.get(entry.index) == entry
    with pytest.raises(LedgerError):
        ledger.get(3)


def test_append_is_idempotent_by_event_id(ledger: Ledger, make_event) -> None:
    first = make_event(1)
    entry = ledger.append(first)
    ledger.append(make_event(2))
    assert ledger.append(first) == entry
    again = ledger.append_many([make_event(3), first, make_event(4)])
    assert [e.index for e in again] == [2, 0, 3]
    assert ledger.size() == 4


def test_reusing_an_event_id_with_other_content_is_a_conflict(ledger: Ledger, make_event) -> None:
    event = make_event(1)
    ledger.append(event)
    altered = make_event(1, event_id=event.event_id, reason="someone else's reason")
    with pytest.raises(LedgerConflict):
        ledger.append(altered)
    with pytest.raises(LedgerConflict):  # the whole batch is refused, not just the clashing event
        ledger.append_many([make_event(2), altered])
    dup = make_event(3)
    with pytest.raises(LedgerConflict):
        ledger.append_many([dup, make_event(3, event_id=dup.event_id, decision="deny", outcome="4")])
    assert ledger.size() == 1


def test_append_many_is_ordered_and_gap_free(ledger: Ledger, make_event) -> None:
    ledger.append(make_event(0))
    batch = [make_event(n) for n in range(1, 21)]
    entries = ledger.append_many(batch)
    assert [e.index for e in entries] == list(range(1, 21))
    assert [ledger.get(i).event for i in range(1, 21)] == batch
    dup = make_event(30)
    twice = ledger.append_many([dup, dup])
    assert twice[0] == twice[1] and ledger.size() == 22
    assert ledger.append_many([]) == []


def test_inclusion_proofs_verify_against_a_signed_head(ledger: Ledger, make_event) -> None:
    events = [make_event(n) for n in range(11)]
    ledger.append_many(events)
    head = ledger.signed_head()
    assert head.tree_size == 11 and head.verify(ledger.public_key())
    wire = json.loads(json.dumps(head.to_dict()))
    head = SignedTreeHead.from_dict(wire)
    for i, event in enumerate(events):
        proof = InclusionProof.from_dict(
            json.loads(json.dumps(ledger.inclusion_proof(i, head.tree_size).to_dict()))
        )
        data = event.canonical_bytes()
        assert verify.verify_inclusion(data, i, proof, head, ledger.public_key())
        assert not verify.verify_inclusion(
            data.replace(b"attending-1", b"attending-2"), i, proof, head, ledger.public_key()
        )
        assert not verify.verify_inclusion(data, (i + 1) % 11, proof, head, ledger.public_key())
    # An older, smaller tree proves too.
    old = ledger.signed_head(4)
    assert verify.verify_inclusion(
        events[2].canonical_bytes(), 2, ledger.inclusion_proof(2, 4), old, ledger.public_key()
    )
    with pytest.raises(LedgerError):
        ledger.inclusion_proof(11, 11)
    with pytest.raises(LedgerError):
        ledger.inclusion_proof(0, 12)


def test_consistency_proof_between_two_heads(ledger: Ledger, make_event) -> None:
    ledger.append_many([make_event(n) for n in range(5)])
    old = ledger.signed_head()
    ledger.append_many([make_event(n) for n in range(5, 13)])
    new = ledger.signed_head()
    assert (old.tree_size, new.tree_size) == (5, 13)
    proof = ConsistencyProof.from_dict(json.loads(json.dumps(ledger.consistency_proof(5, 13).to_dict())))
    key = ledger.public_key()
    assert verify.verify_consistency(proof, old, new, key)
    assert not verify.verify_consistency(proof, new, old, key)
    forged = SignedTreeHead(
        old.tree_size, merkle.leaf_hash(b"forged"), old.timestamp, old.key_id, old.signature
    )
    assert not verify.verify_consistency(proof, forged, new, key)
    assert ledger.signed_head(5) == old  # a recorded head is reused, not re-signed
    assert verify.verify_consistency(ledger.consistency_proof(0, 13), ledger.signed_head(0), new, key)
    with pytest.raises(LedgerError):
        ledger.consistency_proof(6, 5)
    with pytest.raises(LedgerError):
        ledger.consistency_proof(5, 14)
    with pytest.raises(LedgerError):
        ledger.signed_head(14)


def test_signed_head_is_reused_until_the_log_grows(ledger: Ledger, make_event) -> None:
    empty = ledger.signed_head()
    assert empty.tree_size == 0 and empty.root_hash == merkle.EMPTY_ROOT
    ledger.append(make_event(1))
    first = ledger.signed_head()
    assert ledger.signed_head() == first
    ledger.append(make_event(2))
    second = ledger.signed_head()
    assert second.tree_size == 2 and second.root_hash != first.root_hash


def test_queries_filter_by_patient_actor_action_and_time(ledger: Ledger, make_event) -> None:
    events = [make_event(n) for n in range(9)]  # pat-0, pat-1, pat-2 in turn, one minute apart
    events.append(
        make_event(
            9,
            actor="billing-1",
            role="billing_clerk",
            action="E",
            subtype="invoice.export",
            patient_id="pat-0",
            purpose="HPAYMT",
        )
    )
    events.append(
        make_event(
            10,
            actor="nurse-medical-1",
            role="nurse",
            action="U",
            decision="deny",
            outcome="4",
            patient_id=None,
            resource_id=None,
            resource_type="Ward",
        )
    )
    ledger.append_many(events)

    def idx(**kw: object) -> list[int]:
        return [e.index for e in ledger.query(**kw)]  # type: ignore[arg-type]

    assert idx(patient_id="pat-0") == [0, 3, 6, 9]
    assert idx(actor="billing-1") == [9]
    assert idx(action="U") == [10]
    assert idx(actor="attending-1", patient_id="pat-1") == [1, 4, 7]
    start = events[0].recorded
    assert idx(since=start + timedelta(minutes=2), until=start + timedelta(minutes=5)) == [2, 3, 4]
    assert idx(patient_id="pat-0", since=start + timedelta(minutes=3)) == [3, 6, 9]
    assert idx(limit=3, offset=4) == [4, 5, 6]
    assert idx(patient_id="nobody") == []
    assert [e.event for e in ledger.query(patient_id="pat-2")] == [events[2], events[5], events[8]]
    with pytest.raises(ValueError):  # a naive time would silently mean the server's zone
        ledger.query(since=start.replace(tzinfo=None))


def test_verify_reports_ok_on_an_honest_log(ledger: Ledger, make_event) -> None:
    empty = ledger.verify()
    assert empty.ok and empty.tree_size == 0 and empty.problems == []
    for n in range(37):
        ledger.append(make_event(n))
        if n % 10 == 0:
            ledger.signed_head()
    ledger.append_many([make_event(n) for n in range(37, 45)])
    ledger.signed_head()
    report = ledger.verify()
    assert report.problems == []
    assert report.ok and report.tree_size == 45


def test_checkpoint_follows_honest_growth(ledger: Ledger, make_event, tmp_path) -> None:
    from ledger.checkpoint import Checkpoint

    checkpoint = Checkpoint(tmp_path / "checkpoint.json", ledger.public_key())
    assert checkpoint.check(ledger).status == "first"
    ledger.append_many([make_event(n) for n in range(7)])
    assert checkpoint.check(ledger).status == "extended"
    assert checkpoint.check(ledger).status == "unchanged"
    ledger.append(make_event(8))
    result = checkpoint.check(ledger)
    assert result.ok and result.previous.tree_size == 7 and result.current.tree_size == 8  # type: ignore[union-attr]


def test_publisher_signs_a_head_only_when_the_log_grew(ledger: Ledger, make_event) -> None:
    from ledger.publisher import HeadPublisher

    publisher = HeadPublisher(ledger, interval=3600)
    first = publisher.publish_once()
    assert first is not None and first.tree_size == 0
    assert publisher.publish_once() is None
    ledger.append_many([make_event(n) for n in range(3)])
    head = publisher.publish_once()
    assert head is not None and head.tree_size == 3 and verify.verify_head(head, ledger.public_key())
    assert ledger.signed_head(3) == head  # recorded by the ledger, so verify() holds the log to it


def test_compliance_search_and_export_carry_verifiable_proofs(ledger: Ledger, make_event) -> None:
    import io

    from ledger import compliance, verify_export

    ledger.append_many([make_event(n) for n in range(10)])
    result = compliance.search(ledger, compliance.Filters(patient_id="pat-1"), limit=2)
    assert [p.entry.index for p in result.entries] == [1, 4]
    key = verify.load_public_key(result.public_key_pem)
    assert all(p.verifies(result.head, key) for p in result.entries)
    wire = json.loads(json.dumps(result.to_dict()))
    head = SignedTreeHead.from_dict(wire["signed_head"])
    for item in wire["entries"]:
        entry_bytes = ledger.get(item["index"]).event.canonical_bytes()
        proof = InclusionProof.from_dict(item["inclusion_proof"])
        assert verify.verify_inclusion(entry_bytes, item["index"], proof, head, key)
    out = io.StringIO()
    assert compliance.write_export(ledger, out, compliance.Filters(actor="attending-1")) == 10
    count, problems = verify_export.verify_lines(out.getvalue().splitlines(), key)
    assert (count, problems) == (10, [])

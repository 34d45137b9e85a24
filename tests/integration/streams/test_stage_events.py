"""The journey's stages on the streams: their store functions write rows, triggers (migration 0902) turn each
new row or real change of state into a ``stage`` event, and the stream pushes what the stage is now (ids only)."""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from temporalio.testing import ActivityEnvironment

from activities.imaging import ImagingActivities
from activities.storage import billing_repo, discharge_repo, triage_store
from activities.storage import pharmacy as pharmacy_store
from activities.storage import tasks as task_store
from tests.integration.streams.conftest import Stack
from tests.integration.streams.test_streams import _events, _marker, _open, _until_subscribed
from tests.integration.streams.test_triggers import events_of
from workflows.contracts import AuditContext
from workflows.imaging_contracts import OrderInput, OrderStatusInput, ReportInput, StudyInput

pytestmark = pytest.mark.integration
Admit = Callable[..., tuple[str, str]]


def _stage_refs(stack: Stack, patient: str, prefix: str) -> list[str]:
    return [ref for kind, ref, _ in events_of(stack, patient) if kind == "stage" and ref.startswith(prefix)]


def _imaging(stack: Stack, method: str, inp: object) -> object:
    """Run one imaging activity as the worker would (an activity context for its ledger entry)."""
    acts = ImagingActivities(stack.services.sessions, stack.services.ledger, cipher=stack.services.field_cipher)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"imaging-{uuid.uuid4()}", activity_id=str(uuid.uuid4()))
    return env.run(getattr(acts, method), inp)


def _audit(encounter: str) -> AuditContext:
    return AuditContext(journey_id=f"journey-{encounter}", requested_by="attending-1")


def _place_imaging(stack: Stack, patient: str, encounter: str) -> str:
    order_id = f"img-{uuid.uuid4().hex[:12]}"
    _imaging(stack, "create_order", OrderInput(
        audit=_audit(encounter), order_id=order_id, patient_id=patient, encounter_id=encounter,
        workflow_id=f"imaging-{order_id}", modality="CR", body_site="chest", priority="urgent", reason_code="R05"))
    return order_id


def _study(stack: Stack, patient: str, encounter: str, order_id: str) -> str:
    study_id = f"study-{order_id}"
    _imaging(stack, "register_study", StudyInput(audit=_audit(encounter), study_id=study_id, order_id=order_id,
                                                 patient_id=patient, reference="pacs://test/1", modality="CR"))
    return study_id


def _report(stack: Stack, patient: str, encounter: str, order_id: str, study_id: str) -> str:
    report_id = f"report-{order_id}"
    _imaging(stack, "store_report", ReportInput(
        audit=_audit(encounter), report_id=report_id, order_id=order_id, study_id=study_id, patient_id=patient,
        findings_code="RID5352", impression="clear", conclusion="no acute finding", abnormal=False,
        issued_by="radiologist-1", issued_at=datetime.now(UTC)))
    return report_id


def _medication_order(stack: Stack, patient: str, encounter: str) -> tuple[str, dict]:
    order_id = f"rx-{uuid.uuid4().hex[:12]}"
    values = {"id": order_id, "patient_id": patient, "encounter_id": encounter, "journey_id": f"journey-{encounter}",
              "workflow_id": f"pharmacy-{order_id}", "drug_code": "1191", "dose": 75.0, "unit": "mg", "route": "PO",
              "frequency_hours": 24, "doses": 1, "units_per_dose": 1, "status": "pending-verification",
              "hits": [], "ordered_by": "attending-1"}
    return order_id, values


def _write(stack: Stack, fn: Callable[..., object], *args: object, **kwargs: object) -> object:
    with stack.services.sessions() as s, s.begin():
        return fn(s, *args, **kwargs)


def test_stage_rows_are_events_on_real_changes_only(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit(ward="surgical")
    cipher = stack.services.field_cipher

    # Triage: an assessment recorded (the same ids again, as a retried activity writes them: nothing new).
    now = datetime.now(UTC)
    vitals = {"id": f"v-{uuid.uuid4().hex[:8]}", "patient_id": patient, "encounter_id": encounter, "triage_id": "t1",
              "status": "final", "values": {"heart_rate": 80}, "effective_at": now, "recorded_by": "nurse-medical-1"}
    assessment = {"id": f"t-{uuid.uuid4().hex[:8]}-0", "triage_id": "t1", "patient_id": patient,
                  "encounter_id": encounter, "sequence": 0, "kind": "initial", "observation_id": vitals["id"],
                  "news2": 1, "news2_band": "low", "esi_suggested": 3, "esi_final": 3, "red_flags": [],
                  "model_version": "test", "assessed_by": "triage-nurse-1", "assessed_at": now}
    for _ in range(2):
        _write(stack, triage_store.record_assessment, assessment=assessment, vitals=vitals, cipher=cipher)
    assert _stage_refs(stack, patient, "triage/") == [f"triage/{assessment['id']}"]

    # Imaging: placed, study received, reported (a retried report write changes nothing); another one cancelled.
    order_id = _place_imaging(stack, patient, encounter)
    study_id = _study(stack, patient, encounter, order_id)
    _study(stack, patient, encounter, order_id)
    for _ in range(2):
        _report(stack, patient, encounter, order_id, study_id)
    revoked = _place_imaging(stack, patient, encounter)
    for _ in range(2):
        _imaging(stack, "set_order_status", OrderStatusInput(audit=_audit(encounter), order_id=revoked,
                                                             patient_id=patient, status="revoked"))
    assert _stage_refs(stack, patient, "imaging-") == [
        f"imaging-order/{order_id}", f"imaging-study/{study_id}", f"imaging-order/{order_id}",
        f"imaging-order/{revoked}", f"imaging-order/{revoked}"]

    # Pharmacy: placed, verified, closed; retried writes of the same state are no events.
    rx, values = _medication_order(stack, patient, encounter)
    for _ in range(2):
        _write(stack, pharmacy_store.create_order, values, cipher)
        _write(stack, pharmacy_store.set_order, rx, cipher, status="verified", verified_by="pharmacist-1")
    for _ in range(2):
        _write(stack, pharmacy_store.close_order, rx, "completed", f"close-{rx}", None, cipher)
    assert _stage_refs(stack, patient, "medication-order/") == [f"medication-order/{rx}"] * 3

    # Discharge: the checklist's first task, the summary, the bed to cleaning and released, then the stay ends.
    with stack.services.sessions() as s, s.begin():
        s.execute(sa.text("UPDATE hms.beds SET encounter_id = :e WHERE id = (SELECT id FROM hms.beds WHERE "
                          "ward_id = 'surgical' AND encounter_id IS NULL ORDER BY id LIMIT 1)"), {"e": encounter})
    task = {"id": f"medication-reconciliation-{encounter}", "type": "medication-reconciliation",
            "role": "attending_physician", "ward_id": "surgical", "patient_id": patient, "encounter_id": encounter,
            "journey_id": f"journey-{encounter}", "workflow_id": f"discharge-{encounter}", "status": "open",
            "due": None, "details": {"orders": []}, "created_at": now}
    for _ in range(2):
        _write(stack, task_store.upsert_task, task, cipher)
        _write(stack, discharge_repo.store_summary, composition_id=f"discharge-summary-{encounter}",
               encounter_id=encounter, journey_id=f"journey-{encounter}", patient_id=patient, security=[],
               resource={"resourceType": "Composition"}, at=now)
        _write(stack, discharge_repo.start_cleaning, encounter, now)
        _write(stack, discharge_repo.release_bed, encounter, "nurse-medical-1", now)
    assert _stage_refs(stack, patient, "discharge/") == [f"discharge/{encounter}"] * 4

    # Billing: the invoice issued, its claim submitted and paid in full (so the invoice is balanced).
    _write(stack, billing_repo.issue_invoice, invoice_id=f"inv-{encounter}", encounter_id=encounter,
           patient_id=patient, journey_id=f"journey-{encounter}", currency="INR", at=now,
           build=lambda lines: {"resourceType": "Invoice"})
    with stack.services.sessions() as s, s.begin():
        found = billing_repo.get_invoice(s, f"inv-{encounter}")
        billing_repo.submit_claim(s, claim_id=f"claim-{encounter}", invoice=found, payer="self", at=now,
                                  build=lambda lines: {"resourceType": "Claim"})
    for _ in range(2):
        _write(stack, billing_repo.settle_claim, claim_id=f"claim-{encounter}", outcome="paid",
               paid_amount=Decimal("0.00"), denial_reason=None, by="billing-1", at=now)
    assert _stage_refs(stack, patient, "invoice/") == [f"invoice/inv-{encounter}"] * 2
    assert _stage_refs(stack, patient, "claim/") == [f"claim/claim-{encounter}"] * 2
    assert all(ward == "surgical" for kind, _, ward in events_of(stack, patient) if kind == "stage")


async def test_stage_events_reach_the_stream_with_ids_only_and_resume(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit(ward="medical", attending="attending-1")
    token = stack.token("attending-1", "attending_physician")
    ws = await _open(stack, f"/ws/patients/{patient}", token)
    await _until_subscribed(ws)

    async def next_stage(prefix: str) -> dict:
        while True:
            [msg] = await _events(ws, 1, "stage")
            if msg["ref"].startswith(prefix):
                return msg

    order_id = _place_imaging(stack, patient, encounter)
    placed = await next_stage("imaging-")
    study_id = _study(stack, patient, encounter, order_id)
    received = await next_stage("imaging-")
    report_id = _report(stack, patient, encounter, order_id, study_id)
    reported = await next_stage("imaging-")
    await ws.close()

    assert placed["ref"] == f"imaging-order/{order_id}" and placed["ward"] == "medical"
    assert placed["data"] == {"stage": "imaging", "source": "imaging-order", "status": "ordered", "order_id": order_id,
                              "study_id": None, "report_id": None, "assigned_to": placed["data"]["assigned_to"],
                              "encounter_id": encounter, "journey_id": f"journey-{encounter}"}
    assert received["ref"] == f"imaging-study/{study_id}" and received["data"]["status"] == "study-received"
    assert received["data"]["study_id"] == study_id and received["data"]["order_id"] == order_id
    assert reported["data"]["status"] == "reported" and reported["data"]["report_id"] == report_id
    assert "findings_code" not in str(reported["data"]) and "RID5352" not in str(reported["data"])

    # Missed while away: the medication order's changes, exactly once each, then only what is new.
    rx, values = _medication_order(stack, patient, encounter)
    cipher = stack.services.field_cipher
    _write(stack, pharmacy_store.create_order, values, cipher)
    _write(stack, pharmacy_store.set_order, rx, cipher, status="verified", verified_by="pharmacist-1")
    _write(stack, pharmacy_store.close_order, rx, "cancelled", f"close-{rx}", "stopped by the placer", cipher)
    ws = await _open(stack, f"/ws/patients/{patient}", token, last_event_id=reported["id"])
    missed = await _events(ws, 3)
    marker = _marker(stack, patient)
    after = await _events(ws, 1)
    await ws.close()
    assert [(m["kind"], m["ref"]) for m in missed] == [("stage", f"medication-order/{rx}")] * 3
    assert {m["data"]["stage"] for m in missed} == {"pharmacy"}
    assert missed[-1]["data"]["status"] == "cancelled" and missed[-1]["data"]["order_id"] == rx
    assert "1191" not in str(missed) and "stopped by the placer" not in str(missed)
    assert after[0]["ref"] == marker

    # Each push was decided (and recorded) as a read of the patient's Encounter.
    entries = stack.services.ledger.query(patient_id=patient)
    pushes = [e.event for e in entries if e.event.subtype == "stream.push.stage"]
    assert pushes and all(p.resource_type == "Encounter" and p.decision == "allow" for p in pushes)


async def test_a_ward_stream_shows_stage_events_only_of_the_attendings_patients(stack: Stack, admit: Admit) -> None:
    mine, mine_enc = admit(ward="icu", attending="attending-2")
    theirs, theirs_enc = admit(ward="icu", attending="attending-1")
    ws = await _open(stack, "/ws/wards/icu", stack.token("attending-2", "attending_physician"))
    await _until_subscribed(ws)
    hidden = _place_imaging(stack, theirs, theirs_enc)
    shown = _place_imaging(stack, mine, mine_enc)
    while True:
        [msg] = await _events(ws, 1, "stage")
        if msg["ref"].startswith("imaging-"):
            break
    await ws.close()
    assert msg["ref"] == f"imaging-order/{shown}" and msg["patient_id"] == mine and hidden != shown

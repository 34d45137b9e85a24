"""Erasure under the DPDP Act: the hospital's checks, approval, crypto-shredding, and a ledger that still verifies."""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import date

import httpx
import jwt
import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.crypto.fields import DataErased, FieldCipher, ephemeral_cipher
from activities.storage import erasure_repo
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from deploy.settings import Settings
from deploy.tokens import issuer_key
from ledger.embedded import EmbeddedLedger
from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.conftest import journey_worker
from workflows.contracts import TaskCompletion
from workflows.erasure import ErasureWorkflow, erasure_workflow_id
from workflows.erasure_contracts import ErasureInput

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]

COMPLIANCE = ("compliance-1", "compliance_officer")
ATTENDING = ("attending-1", "attending_physician")
REGISTRATION = ("registration-1", "registration_clerk")
NOTE = "Intermittent palpitations since the spring."


def patient_headers(settings: Settings, patient_id: str) -> dict[str, str]:
    """A patient's own token (the embedded issuer, with the patient_id claim a patient portal sets)."""
    now = int(time.time())
    claims = {"iss": settings.token_issuer, "aud": settings.token_audience, "sub": f"patient-{patient_id[:8]}",
              "role": "patient", "patient_id": patient_id, "iat": now, "nbf": now, "exp": now + 600,
              "jti": uuid.uuid4().hex}
    return {"Authorization": f"Bearer {jwt.encode(claims, issuer_key(settings), algorithm='EdDSA')}"}


async def _discharge(api: httpx.AsyncClient, auth: Auth, journey_id: str) -> None:
    r = await api.post(f"/api/v1/journeys/{journey_id}/discharge", json={}, headers=auth(*ATTENDING))
    assert r.status_code == 202, r.text
    for _ in range(300):
        j = (await api.get(f"/api/v1/journeys/{journey_id}", headers=auth(*ATTENDING))).json()
        if j["status"] == "completed":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"journey {journey_id} did not complete: {j}")


async def _approval_task(api: httpx.AsyncClient, auth: Auth, patient: str) -> dict:
    for _ in range(100):
        r = await api.get("/api/v1/tasks", params={"patient": patient, "role": "compliance_officer"},
                          headers=auth(*COMPLIANCE))
        tasks = [t for t in r.json() if t["type"] == "erasure-approval"]
        if tasks:
            return tasks[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no erasure approval task opened")


async def test_erasure_is_refused_while_held_then_shreds_on_approval(
        api: httpx.AsyncClient, auth: Auth, ledger: EmbeddedLedger, api_settings: Settings) -> None:
    identifier = f"MRN-ER-{uuid.uuid4().hex[:8]}"
    started = await api.post("/api/v1/admissions", json=admission_body(identifier=identifier),
                             headers=auth(*REGISTRATION))
    assert started.status_code == 202, started.text
    patient, journey = started.json()["patient_id"], started.json()["journey_id"]
    await admitted(api, auth, journey)
    note = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": NOTE}, headers=auth(*ATTENDING))
    assert note.status_code == 201
    me = patient_headers(api_settings, patient)

    # An inpatient's record is not erased: the active stay refuses the request, with its reason.
    busy = await api.post(f"/api/v1/patients/{patient}/erasure", json={}, headers=me)
    assert busy.status_code == 409 and "active encounter" in busy.json()["detail"], busy.text
    await _discharge(api, auth, journey)

    # A legal retention hold refuses it too; only compliance officers place and release holds.
    assert (await api.post(f"/api/v1/patients/{patient}/legal-holds", json={"reason": "litigation 2026/114 pending"},
                           headers=me)).status_code == 403
    held = await api.post(f"/api/v1/patients/{patient}/legal-holds", json={"reason": "litigation 2026/114 pending"},
                          headers=auth(*COMPLIANCE))
    assert held.status_code == 201, held.text
    hold_id = held.json()["hold_id"]
    blocked = await api.post(f"/api/v1/patients/{patient}/erasure", json={}, headers=me)
    assert blocked.status_code == 409 and "legal retention hold" in blocked.json()["detail"]
    assert hold_id in blocked.json()["detail"] and "litigation" not in blocked.json()["detail"]
    assert (await api.delete(f"/api/v1/patients/{patient}/legal-holds/{hold_id}",
                             headers=auth(*COMPLIANCE))).status_code == 200
    assert (await api.delete(f"/api/v1/patients/{patient}/legal-holds/{hold_id}",
                             headers=auth(*COMPLIANCE))).status_code == 409

    # Someone else's record, or another role: refused by the policy.
    other = patient_headers(api_settings, str(uuid.uuid4()))
    assert (await api.post(f"/api/v1/patients/{patient}/erasure", json={}, headers=other)).status_code == 403
    assert (await api.post(f"/api/v1/patients/{patient}/erasure", json={},
                           headers=auth(*ATTENDING))).status_code == 403

    requested = await api.post(f"/api/v1/patients/{patient}/erasure", json={"grounds": "consent-withdrawn"},
                               headers=me)
    assert requested.status_code == 202, requested.text
    assert requested.json()["status"] == "awaiting-approval"
    again = await api.post(f"/api/v1/patients/{patient}/erasure", json={}, headers=me)
    assert again.status_code == 200 and again.json()["erasure_id"] == requested.json()["erasure_id"]
    entries_before = [e.event.event_id for e in ledger.query(patient_id=patient)]

    task = await _approval_task(api, auth, patient)
    bad = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "ok"}, headers=auth(*COMPLIANCE))
    assert bad.status_code == 422 and "decision" in bad.text
    done = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "approve"},
                          headers=auth(*COMPLIANCE))
    assert done.status_code == 200, done.text
    assert done.json()["result"]["status"] == "erased"

    # The record is gone for good: reads answer 410 with a clear message, before and after the policy.
    gone = await api.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))
    assert gone.status_code == 410 and "erased" in gone.json()["detail"] and gone.json()["erased"] is True
    assert (await api.get(f"/api/v1/notes/{note.json()['id']}", headers=auth(*ATTENDING))).status_code == 410
    assert (await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "late entry"},
                           headers=auth(*ATTENDING))).status_code == 410
    state = await api.get(f"/api/v1/patients/{patient}/erasure", headers=me)
    assert state.status_code == 200 and state.json()["status"] == "erased" and state.json()["decided_by"] == "compliance-1"

    # The ledger keeps every entry about the patient (ids and codes only) and still verifies.
    entries = [e.event for e in ledger.query(patient_id=patient)]
    assert set(entries_before) <= {e.event_id for e in entries}
    assert ("patient.erase", "D") in {(e.subtype, e.action) for e in entries}
    assert {"erasure.refused", "erasure.approved"} <= {e.subtype for e in entries}
    assert ledger.verify().ok

    # The same person coming back is a new patient (a successor id), readable again.
    back = await api.post("/api/v1/admissions", json=admission_body(identifier=identifier), headers=auth(*REGISTRATION))
    assert back.status_code == 202, back.text
    assert back.json()["patient_id"] != patient
    await admitted(api, auth, back.json()["journey_id"])
    fresh = await api.get(f"/api/v1/patients/{back.json()['patient_id']}", headers=auth(*ATTENDING))
    assert fresh.status_code == 200 and fresh.json()["identifiers"][0]["value"] == identifier
    await _discharge(api, auth, back.json()["journey_id"])


async def test_requester_may_not_approve_and_a_rejection_keeps_the_record(
        api: httpx.AsyncClient, auth: Auth, db_engine: sa.Engine) -> None:
    patient = _register(db_engine, ephemeral_cipher())
    requested = await api.post(f"/api/v1/patients/{patient}/erasure", json={}, headers=auth(*COMPLIANCE))
    assert requested.status_code == 202, requested.text
    task = await _approval_task(api, auth, patient)
    own = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "approve"},
                         headers=auth(*COMPLIANCE))
    assert own.status_code == 403 and "other than its requester" in own.json()["detail"]
    second = {"Authorization": auth("compliance-2", "compliance_officer")["Authorization"]}
    rejected = await api.post(f"/api/v1/tasks/{task['id']}/complete",
                              json={"decision": "reject", "comment": "identity not verified"}, headers=second)
    assert rejected.status_code == 200 and rejected.json()["result"]["status"] == "rejected", rejected.text
    assert (await api.get(f"/api/v1/patients/{patient}", headers=auth(*REGISTRATION))).status_code == 200


def _register(engine: sa.Engine, cipher: FieldCipher) -> str:
    """A patient with no stay (registered directly in the store)."""
    pid = str(uuid.uuid4())
    with make_session_factory(engine)() as s, s.begin():
        repo.register_patient(s, cipher, pid, "urn:hms:mrn", f"MRN-{uuid.uuid4().hex[:10]}", "Ilse", "Marrow",
                              date(1950, 1, 2), "female")
    return pid


async def start_erasure(env: WorkflowEnvironment, engine: sa.Engine, queue: str,
                        patient_id: str | None = None) -> tuple[ErasureInput, WorkflowHandle]:
    patient_id = patient_id or _register(engine, ephemeral_cipher())
    inp = ErasureInput(erasure_id=str(uuid.uuid4()), patient_id=patient_id, requested_by=f"patient-{patient_id[:8]}",
                       requester_role="patient", approval_due_minutes=600, escalation_due_minutes=120)
    handle = await env.client.start_workflow(ErasureWorkflow.run, inp, id=erasure_workflow_id(patient_id),
                                             task_queue=queue)
    return inp, handle


async def test_overdue_approval_escalates_and_a_hold_placed_meanwhile_still_stops_the_shredding(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    env, sessions = time_skipping_env, make_session_factory(db_engine)
    async with journey_worker(env, db_engine, ledger, task_queue):
        inp, handle = await start_erasure(env, db_engine, task_queue)
        await env.sleep(601 * 60)
        state = await handle.query(ErasureWorkflow.state)
        assert state.status == "awaiting-approval" and state.escalations == 1
        assert state.open_tasks == [f"erasure-approval-{inp.erasure_id}-e1"]
        with sessions() as s, s.begin():
            erasure_repo.place_hold(s, hold_id=str(uuid.uuid4()), patient_id=inp.patient_id,
                                    reason="regulator inquiry 88/2026", by="compliance-2")
        done = await handle.execute_update(ErasureWorkflow.complete_task, TaskCompletion(
            task_id=f"erasure-approval-{inp.erasure_id}-e1", actor="compliance-1", role="compliance_officer",
            payload={"decision": "approve"}))
        assert done.result["status"] == "refused" and "legal retention hold" in done.result["reasons"][0]
        final = await handle.result()
        assert final.status == "refused" and final.erased_at is None
        with sessions() as s:
            assert repo.read_patient(s, ephemeral_cipher(), inp.patient_id) is not None  # still readable
            hold = erasure_repo.holds_of(s, inp.patient_id, active_only=True)[0]
        with sessions() as s, s.begin():
            erasure_repo.release_hold(s, hold.id, "compliance-2", final.decided_at)

        # Once the hold is released a new request goes through, and a retried shredding changes nothing.
        inp2, handle2 = await start_erasure(env, db_engine, task_queue, inp.patient_id)
        for _ in range(100):
            if (await handle2.query(ErasureWorkflow.state)).open_tasks:
                break
            await asyncio.sleep(0.05)
        await handle2.execute_update(ErasureWorkflow.complete_task, TaskCompletion(
            task_id=f"erasure-approval-{inp2.erasure_id}", actor="compliance-1", role="compliance_officer",
            payload={"decision": "approve"}))
        assert (await handle2.result()).status == "erased"
    with sessions() as s, s.begin():
        with pytest.raises(DataErased):
            repo.read_patient(s, ephemeral_cipher(), inp.patient_id)
        assert erasure_repo.shred_patient(s, inp.patient_id, "retry", final.decided_at) == []
        assert s.execute(sa.text("SELECT count(*) FROM hms.patient_identifiers WHERE patient_id = :p"),
                         {"p": inp.patient_id}).scalar() == 0
        assert s.execute(sa.text("SELECT erasure_id FROM hms.patient_keys WHERE patient_id = :p"),
                         {"p": inp.patient_id}).scalar() == inp2.erasure_id
    assert ledger.verify().ok

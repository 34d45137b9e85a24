"""The ``patient`` role through the API: own records only, and a correction request decided by registration.

The correction is a ``CorrectionRequest`` workflow whose task the registration clerk completes; the
proposed value is stored encrypted with the request, never in the ledger, and the demographics are
never changed by it.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from deploy.settings import Settings
from ledger.embedded import EmbeddedLedger
from tests.integration.security.test_consent_api import (
    ATTENDING,
    BILLING,
    NURSE,
    OTHER_ATTENDING,
    REGISTRATION,
    admit,
    patient_auth,
)

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]

PROPOSED = "Iyer-Raman"
COMMENT = "surname changed at marriage"
WHY = "matches the passport shown at the desk"


async def _correction_task(api: httpx.AsyncClient, auth: Auth, patient: str) -> dict:
    for _ in range(100):
        r = await api.get("/api/v1/tasks", params={"patient": patient, "role": "registration_clerk"},
                          headers=auth(*REGISTRATION))
        assert r.status_code == 200, r.text
        if r.json():
            return r.json()[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no correction task opened for registration")


async def test_patient_reads_own_records_only(api: httpx.AsyncClient, auth: Auth, api_settings: Settings) -> None:
    patient, journey = await admit(api, auth)
    other, _ = await admit(api, auth)
    own = patient_auth(api_settings, patient)
    note = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "Settled overnight.",
                                                                     "sensitivity": ["PSY"]},
                          headers=auth(*ATTENDING))
    other_note = await api.post(f"/api/v1/patients/{other}/notes", json={"text": "Settled."},
                                headers=auth(*ATTENDING))
    assert note.status_code == other_note.status_code == 201

    mine = await api.get(f"/api/v1/patients/{patient}", headers=own)
    assert mine.status_code == 200 and mine.json()["family"] == "Iyer"
    assert (await api.get(f"/api/v1/notes/{note.json()['id']}", headers=own)).status_code == 200
    assert (await api.get(f"/api/v1/journeys/{journey}", headers=own)).status_code == 200
    for path in (f"/api/v1/patients/{other}", f"/api/v1/notes/{other_note.json()['id']}"):
        r = await api.get(path, headers=own)
        assert r.status_code == 403 and "their own" in r.json()["detail"], path
    # A patient token that names no record, or the wrong one, opens nothing.
    assert (await api.get(f"/api/v1/patients/{patient}", headers=patient_auth(api_settings, None))).status_code == 403
    assert (await api.get(f"/api/v1/patients/{patient}", headers=patient_auth(api_settings, other))).status_code == 403
    # Patients do not write clinical records or other people's requests.
    assert (await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "x"}, headers=own)).status_code == 403
    assert (await api.post(f"/api/v1/patients/{other}/corrections", json={"field": "family", "proposed_value": "X"},
                           headers=own)).status_code == 403


async def test_correction_request_is_a_registration_task(api: httpx.AsyncClient, auth: Auth, api_settings: Settings,
                                                         ledger: EmbeddedLedger, db_engine: sa.Engine) -> None:
    patient, _ = await admit(api, auth)
    own = patient_auth(api_settings, patient)
    path = f"/api/v1/patients/{patient}/corrections"
    for body in ({"field": "weight", "proposed_value": "70"}, {"field": "birth_date", "proposed_value": "03/02/1975"},
                 {"field": "gender", "proposed_value": "x"}, {"field": "family", "proposed_value": ""}):
        assert (await api.post(path, json=body, headers=own)).status_code == 422, body
    assert (await api.post(path, json={"field": "family", "proposed_value": PROPOSED},
                           headers=auth(*REGISTRATION))).status_code == 403  # the patient's own right

    filed = await api.post(path, json={"field": "family", "proposed_value": PROPOSED, "comment": COMMENT},
                           headers=own)
    assert filed.status_code == 202, filed.text
    request_id = filed.json()["request_id"]
    task = await _correction_task(api, auth, patient)
    assert task["id"] == filed.json()["task_id"] and task["type"] == "demographics-correction"
    assert task["details"] == {"request_id": request_id, "field": "family"}

    for who in (REGISTRATION, ATTENDING):
        listed = await api.get(path, headers=auth(*who))
        assert listed.status_code == 200, who
        assert [(c["field"], c["proposed_value"], c["comment"], c["status"]) for c in listed.json()] == [
            ("family", PROPOSED, COMMENT, "open")]
    assert (await api.get(path, headers=own)).status_code == 200
    assert (await api.get(path, headers=auth(*OTHER_ATTENDING))).status_code == 403

    complete = f"/api/v1/tasks/{task['id']}/complete"
    no_reason = await api.post(complete, json={"decision": "rejected"}, headers=auth(*REGISTRATION))
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    assert (await api.post(complete, json={"decision": "maybe"}, headers=auth(*REGISTRATION))).status_code == 422
    for who in (NURSE, BILLING):
        assert (await api.post(complete, json={"decision": "accepted"}, headers=auth(*who))).status_code == 403, who
    assert (await api.post(complete, json={"decision": "accepted"}, headers=own)).status_code == 403
    done = await api.post(complete, json={"decision": "accepted", "reason": WHY}, headers=auth(*REGISTRATION))
    assert done.status_code == 200, done.text
    assert done.json()["result"] == {"request_id": request_id, "decision": "accepted"}
    assert (await api.post(complete, json={"decision": "accepted", "reason": WHY},
                           headers=auth(*REGISTRATION))).status_code == 409

    [decided] = (await api.get(path, headers=own)).json()
    assert (decided["status"], decided["decided_by"], decided["decision_reason"]) == ("accepted", "registration-1", WHY)
    # Never applied automatically: the clerk applies it through registration.
    assert (await api.get(f"/api/v1/patients/{patient}", headers=own)).json()["family"] == "Iyer"

    # The proposal is stored encrypted with the request, and never reaches the ledger.
    with db_engine.connect() as c:
        row = c.execute(sa.text("SELECT proposed_value, comment, decision_reason FROM hms.correction_requests "
                                "WHERE id = :i"), {"i": request_id}).one()
    assert all(secret.encode() not in bytes(blob) for blob, secret in zip(row, (PROPOSED, COMMENT, WHY), strict=True))
    entries = [e.event for e in ledger.query(patient_id=patient)]
    assert {("correction.request", "allow"), ("correction.accepted", "allow")} <= {
        (e.subtype, e.decision) for e in entries}
    assert not any(text in e.reason for e in entries for text in (PROPOSED, COMMENT, WHY, "Iyer"))
    assert ledger.verify().ok

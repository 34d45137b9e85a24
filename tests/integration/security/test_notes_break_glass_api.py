"""Labelled notes and break-glass through the API: policy decisions, ledger flags, the review workflow."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from ledger.embedded import EmbeddedLedger
from tests.integration.api.test_admissions_api import admission_body, admitted

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]

ATTENDING = ("attending-1", "attending_physician")
OTHER_ATTENDING = ("attending-2", "attending_physician")
BILLING = ("billing-1", "billing_clerk")
NURSE = ("nurse-medical-1", "nurse")
PHARMACIST = ("pharmacist-1", "pharmacist")
COMPLIANCE = ("compliance-1", "compliance_officer")
NOTE_TEXT = "Low mood for three weeks; discussed safety plan."
REASON = "patient collapsed in the corridor and the care team is not reachable"


async def _admit(api: httpx.AsyncClient, auth: Auth) -> str:
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1",
                                                                                  "registration_clerk"))
    assert r.status_code == 202, r.text
    await admitted(api, auth, r.json()["journey_id"])
    return r.json()["patient_id"]


async def test_labelled_note_is_read_per_the_matrix(api: httpx.AsyncClient, auth: Auth,
                                                    ledger: EmbeddedLedger) -> None:
    patient = await _admit(api, auth)
    psy = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": NOTE_TEXT, "sensitivity": ["psy"]},
                         headers=auth(*ATTENDING))
    assert psy.status_code == 201, psy.text
    plain = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "Afebrile, eating well."},
                           headers=auth(*ATTENDING))
    assert plain.status_code == 201
    psy_id, plain_id = psy.json()["id"], plain.json()["id"]

    read = await api.get(f"/api/v1/notes/{psy_id}", headers=auth(*ATTENDING))
    assert read.status_code == 200 and read.json()["text"] == NOTE_TEXT
    assert [s["code"] for s in read.json()["meta"]["security"]] == ["PSY"]
    for who in (BILLING, OTHER_ATTENDING, PHARMACIST):
        r = await api.get(f"/api/v1/notes/{psy_id}", headers=auth(*who))
        assert r.status_code == 403, (who, r.text)
    billing_plain = await api.get(f"/api/v1/notes/{plain_id}", headers=auth(*BILLING))
    assert billing_plain.status_code == 403 and "notes" in billing_plain.json()["detail"]
    nurse_plain = await api.get(f"/api/v1/notes/{plain_id}", headers=auth(*NURSE))
    assert nurse_plain.status_code == 200

    # Only attendings write notes; a billing clerk's attempt is refused and nothing is stored.
    refused = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "x"}, headers=auth(*BILLING))
    assert refused.status_code == 403
    entries = [e.event for e in ledger.query(patient_id=patient) if e.event.subtype.startswith("note.")]
    assert sum(e.subtype == "note.create" and e.decision == "allow" for e in entries) == 2
    assert sum(e.subtype == "note.read" and e.decision == "deny" for e in entries) == 4
    assert all(NOTE_TEXT not in e.reason and "mood" not in e.reason for e in entries)


async def test_bad_note_input_is_refused_with_a_message(api: httpx.AsyncClient, auth: Auth) -> None:
    patient = await _admit(api, auth)
    unknown_label = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "ok", "sensitivity": ["XYZ"]},
                                   headers=auth(*ATTENDING))
    assert unknown_label.status_code == 422 and "XYZ" in unknown_label.text
    blank = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "   "}, headers=auth(*ATTENDING))
    assert blank.status_code == 422
    nobody = await api.post("/api/v1/patients/no-such-patient/notes", json={"text": "ok"}, headers=auth(*ATTENDING))
    assert nobody.status_code == 404
    missing = await api.get("/api/v1/notes/00000000-0000-0000-0000-000000000000", headers=auth(*ATTENDING))
    assert missing.status_code == 404


async def _review_task(api: httpx.AsyncClient, auth: Auth, patient: str) -> dict:
    for _ in range(100):
        r = await api.get("/api/v1/tasks", params={"patient": patient, "role": "compliance_officer"},
                           headers=auth(*COMPLIANCE))
        assert r.status_code == 200, r.text
        tasks = [t for t in r.json() if t["type"] == "break-glass-review"]
        if tasks:
            return tasks[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no break-glass review task opened")


async def test_break_glass_lifecycle(api: httpx.AsyncClient, auth: Auth, ledger: EmbeddedLedger) -> None:
    patient = await _admit(api, auth)
    note = (await api.post(f"/api/v1/patients/{patient}/notes", json={"text": NOTE_TEXT, "sensitivity": ["PSY"]},
                           headers=auth(*ATTENDING))).json()["id"]
    assert (await api.get(f"/api/v1/patients/{patient}", headers=auth(*OTHER_ATTENDING))).status_code == 403

    short = await api.post("/api/v1/break-glass", json={"patient_id": patient, "reason": "urgent"},
                           headers=auth(*OTHER_ATTENDING))
    assert short.status_code == 422 and "reason" in short.text
    clerk = await api.post("/api/v1/break-glass", json={"patient_id": patient, "reason": REASON}, headers=auth(*BILLING))
    assert clerk.status_code == 403
    granted = await api.post("/api/v1/break-glass", json={"patient_id": patient, "reason": REASON},
                             headers=auth(*OTHER_ATTENDING))
    assert granted.status_code == 201, granted.text
    grant_id = granted.json()["grant_id"]

    assert (await api.get(f"/api/v1/patients/{patient}", headers=auth(*OTHER_ATTENDING))).status_code == 200
    assert (await api.get(f"/api/v1/notes/{note}", headers=auth(*OTHER_ATTENDING))).status_code == 200
    # The grant widens the relationship, never the role: a billing clerk still never reads the note.
    assert (await api.get(f"/api/v1/notes/{note}", headers=auth(*BILLING))).status_code == 403
    flagged = [e.event for e in ledger.query(patient_id=patient) if e.event.break_glass]
    assert {(e.actor, e.subtype, e.decision) for e in flagged} == {
        ("attending-2", "patient.read", "allow"), ("attending-2", "note.read", "allow")}
    assert all(e.reason.startswith("break-glass") for e in flagged)
    # The holder's ordinary patients stay unflagged; the care team's own reads are never flagged.
    await api.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))
    assert not any(e.event.break_glass for e in ledger.query(patient_id=patient, actor="attending-1"))

    not_holder = await api.delete(f"/api/v1/break-glass/{grant_id}", headers=auth(*ATTENDING))
    assert not_holder.status_code == 403
    revoked = await api.delete(f"/api/v1/break-glass/{grant_id}", headers=auth(*OTHER_ATTENDING))
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "attending-2"
    assert (await api.get(f"/api/v1/patients/{patient}", headers=auth(*OTHER_ATTENDING))).status_code == 403
    again = await api.delete(f"/api/v1/break-glass/{grant_id}", headers=auth(*OTHER_ATTENDING))
    assert again.status_code == 409

    task = await _review_task(api, auth, patient)
    bad = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "fine"}, headers=auth(*COMPLIANCE))
    assert bad.status_code == 422 and "outcome" in bad.text
    holder = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "appropriate"},
                            headers=auth(*OTHER_ATTENDING))
    assert holder.status_code == 403
    done = await api.post(f"/api/v1/tasks/{task['id']}/complete",
                          json={"outcome": "appropriate", "comment": "justified emergency"}, headers=auth(*COMPLIANCE))
    assert done.status_code == 200, done.text
    view = await api.get(f"/api/v1/break-glass/{grant_id}", headers=auth(*COMPLIANCE))
    assert view.status_code == 200
    assert view.json()["review_status"] == "reviewed" and view.json()["review_outcome"] == "appropriate"
    assert view.json()["reason"] == REASON
    assert (await api.get(f"/api/v1/break-glass/{grant_id}", headers=auth(*OTHER_ATTENDING))).status_code == 403
    listed = await api.get("/api/v1/break-glass", params={"review_status": "reviewed"}, headers=auth(*COMPLIANCE))
    assert grant_id in {g["grant_id"] for g in listed.json()}
    # The stated reason and the comment never reach the ledger.
    assert all(REASON not in e.event.reason and "justified" not in e.event.reason
               for e in ledger.query(patient_id=patient))
    assert ledger.verify().ok

"""Consent per purpose through the API: who reads and changes it, and withdrawal stopping processing.

Real policy, ledger, PostgreSQL and Temporal dev server. A withdrawn consent to treatment
refuses clinical requests (a new journey stage included) from the next request on; emergency
treatment under break-glass proceeds with the purpose ETREAT in the ledger; consent recorded
again lets ordinary care resume.
"""
from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from deploy.settings import Settings
from deploy.tokens import issue_token
from ledger.embedded import EmbeddedLedger
from tests.integration.api.test_admissions_api import admission_body, admitted

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]

ATTENDING = ("attending-1", "attending_physician")
OTHER_ATTENDING = ("attending-2", "attending_physician")
NURSE = ("nurse-medical-1", "nurse")
REGISTRATION = ("registration-1", "registration_clerk")
BILLING = ("billing-1", "billing_clerk")
REASON = "patient collapsed after withdrawing consent; resuscitation needed now"


def patient_auth(settings: Settings, patient_id: str | None, user: str = "patient-test") -> dict[str, str]:
    """A ``patient`` role token that names the patient record the user is."""
    return {"Authorization": f"Bearer {issue_token(settings, user, 'patient', patient_id=patient_id)}"}


async def admit(api: httpx.AsyncClient, auth: Auth) -> tuple[str, str]:
    """A patient admitted to the medical ward (care team A, attending-1); returns (patient id, journey id)."""
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth(*REGISTRATION))
    assert r.status_code == 202, r.text
    await admitted(api, auth, r.json()["journey_id"])
    return r.json()["patient_id"], r.json()["journey_id"]


async def test_consents_are_read_and_changed_per_the_matrix(api: httpx.AsyncClient, auth: Auth,
                                                             api_settings: Settings) -> None:
    patient, _ = await admit(api, auth)
    own = patient_auth(api_settings, patient)
    path = f"/api/v1/patients/{patient}/consents"

    for who in (ATTENDING, REGISTRATION):
        r = await api.get(path, headers=auth(*who))
        assert r.status_code == 200, (who, r.text)
        assert r.json()["current"]["TREAT"] == "active"  # recorded at admission
    mine = await api.get(path, headers=own)
    assert mine.status_code == 200 and [c["purpose"] for c in mine.json()["records"]] == ["TREAT"]
    for who in (OTHER_ATTENDING, BILLING):
        assert (await api.get(path, headers=auth(*who))).status_code == 403, who
    other, _ = await admit(api, auth)
    assert (await api.get(f"/api/v1/patients/{other}/consents", headers=own)).status_code == 403
    assert (await api.get(path, headers=patient_auth(api_settings, None))).status_code == 403

    # Recording: registration or the patient; not clinicians.
    assert (await api.post(path, json={"purpose": "HRESCH"}, headers=auth(*ATTENDING))).status_code == 403
    research = await api.post(path, json={"purpose": "HRESCH"}, headers=own)
    assert research.status_code == 201 and research.json()["status"] == "active"
    assert research.json()["recorded_by"] == "patient-test"
    refused = await api.post(path, json={"purpose": "HMARKT", "granted": False}, headers=auth(*REGISTRATION))
    assert refused.status_code == 201 and refused.json()["status"] == "rejected"
    bad = await api.post(path, json={"purpose": "ETREAT"}, headers=auth(*REGISTRATION))
    assert bad.status_code == 422

    # Withdrawal: the patient, or registration on their behalf; a nurse may not.
    assert (await api.post(f"{path}/HRESCH/withdraw", headers=auth(*NURSE))).status_code == 403
    assert (await api.post(f"{path}/HRESCH/withdraw", headers=auth(*REGISTRATION))).status_code == 200
    again = await api.post(f"{path}/hresch/withdraw", headers=own)
    assert again.status_code == 409 and "no active consent" in again.json()["detail"]
    assert (await api.post(f"{path}/NOPE/withdraw", headers=own)).status_code == 422
    assert (await api.post("/api/v1/patients/no-such-patient/consents/TREAT/withdraw",
                           headers=own)).status_code == 404
    current = (await api.get(path, headers=own)).json()["current"]
    assert current == {"TREAT": "active", "HRESCH": "withdrawn", "HMARKT": "rejected"}


async def test_withdrawal_stops_processing_except_emergency_care(api: httpx.AsyncClient, auth: Auth,
                                                                  api_settings: Settings,
                                                                  ledger: EmbeddedLedger) -> None:
    patient, journey = await admit(api, auth)
    own = patient_auth(api_settings, patient)
    assert (await api.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))).status_code == 200

    withdrawn = await api.post(f"/api/v1/patients/{patient}/consents/TREAT/withdraw", headers=own)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"

    # From now on treatment stops: reads, notes and a new journey stage are refused with the reason.
    read = await api.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))
    assert read.status_code == 403 and "withdrawn consent to TREAT" in read.json()["detail"]
    note = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "review"}, headers=auth(*ATTENDING))
    assert note.status_code == 403
    stage = await api.post(f"/api/v1/journeys/{journey}/triage", json={"priority": "urgent"}, headers=auth(*NURSE))
    assert stage.status_code == 403 and "consent" in stage.json()["detail"]
    # Purposes other than treatment continue: the patient, registration and billing.
    assert (await api.get(f"/api/v1/patients/{patient}", headers=own)).status_code == 200
    assert (await api.get(f"/api/v1/patients/{patient}", headers=auth(*REGISTRATION))).status_code == 200
    # The care team still sees the consents (and so why it is refused).
    consents = await api.get(f"/api/v1/patients/{patient}/consents", headers=auth(*ATTENDING))
    assert consents.status_code == 200 and consents.json()["current"]["TREAT"] == "withdrawn"

    # Emergency care proceeds under break-glass, flagged and recorded with the purpose ETREAT.
    grant = await api.post("/api/v1/break-glass", json={"patient_id": patient, "reason": REASON},
                           headers=auth(*ATTENDING))
    assert grant.status_code == 201, grant.text
    emergency = await api.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))
    assert emergency.status_code == 200
    reads = [e.event for e in ledger.query(patient_id=patient, actor="attending-1")
             if e.event.subtype == "patient.read"]
    assert [(e.decision, e.purpose, e.break_glass) for e in reads] == [
        ("allow", "TREAT", False), ("deny", "TREAT", False), ("allow", "ETREAT", True)]
    assert reads[-1].reason.endswith("[purpose ETREAT]")
    assert "withdrawn consent to TREAT" in reads[1].reason
    # The grant stands in for neither role limits nor the matrix: billing still never reads notes.
    assert (await api.post(f"/api/v1/patients/{patient}/notes", json={"text": "x"},
                           headers=auth(*BILLING))).status_code == 403

    # Consent recorded again: ordinary care resumes, without break-glass, and a stage starts.
    regranted = await api.post(f"/api/v1/patients/{patient}/consents", json={"purpose": "TREAT"},
                               headers=auth(*REGISTRATION))
    assert regranted.status_code == 201
    assert (await api.get(f"/api/v1/patients/{patient}", headers=auth(*NURSE))).status_code == 200
    started = await api.post(f"/api/v1/journeys/{journey}/triage", json={"priority": "urgent"}, headers=auth(*NURSE))
    assert started.status_code == 202, started.text
    nurse_reads = [e.event for e in ledger.query(patient_id=patient, actor="nurse-medical-1")
                   if e.event.subtype == "patient.read"]
    assert [(e.decision, e.purpose, e.break_glass) for e in nurse_reads] == [("allow", "TREAT", False)]

    entries = [e.event for e in ledger.query(patient_id=patient)]
    assert {("consent.withdraw", "allow"), ("consent.record", "allow")} <= {(e.subtype, e.decision) for e in entries}
    assert all(REASON not in e.reason for e in entries)
    assert ledger.verify().ok

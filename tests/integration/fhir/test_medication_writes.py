"""Medication and imaging writes over FHIR reach the journeys (real Temporal dev server, real PostgreSQL):
a MedicationAdministration records the due dose on the eMAR through the course's task update, an eMAR record
is corrected as entered-in-error, a MedicationRequest cancelled stops the course and returns stock, a
ServiceRequest revoked cancels the imaging stage; everything else is refused with an OperationOutcome."""
# ruff: noqa: F811  (the API app fixtures are imported by name: this package's conftest serves the store-only app)
from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.crypto.fields import ephemeral_cipher
from activities.storage import repository as repo
from ledger.embedded import EmbeddedLedger
from tests.integration.api.conftest import api, api_settings, auth  # noqa: F401  (the API app with a worker)
from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.fhir.order_bodies import FORMULARY, imaging_order, medication_order
from tests.integration.pharmacy.conftest import movements, on_hand, open_task

pytestmark = pytest.mark.integration
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
DRUG = "17767"  # amlodipine 5 mg: one tablet a dose


def dose(patient_id: str, order_id: str, status: str = "completed", **extra: Any) -> dict:
    body = {"resourceType": "MedicationAdministration", "status": status,
            "medicationCodeableConcept": {"coding": [{"system": FORMULARY, "code": DRUG}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "request": {"reference": f"MedicationRequest/{order_id}"}}
    return {**body, **extra}


async def _eventually(api: httpx.AsyncClient, url: str, headers: dict[str, str], done: Any) -> dict:
    for _ in range(300):
        r = await api.get(url, headers=headers)
        if r.status_code == 200 and done(r.json()):
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never reached the expected state: {r.status_code} {r.text}")


async def _stay(api: httpx.AsyncClient, auth) -> dict:  # noqa: ANN001
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 202, r.text
    return await admitted(api, auth, r.json()["journey_id"])


async def _order(api: httpx.AsyncClient, headers: dict[str, str], patient_id: str, doses: int) -> str:
    body = medication_order(patient_id, identifier=f"CPOE-{uuid.uuid4().hex}")
    body["dosageInstruction"][0]["timing"]["repeat"]["count"] = doses
    r = await api.post("/fhir/r4/MedicationRequest", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.headers["content-location"].rsplit("/", 1)[1]


async def _verify(api: httpx.AsyncClient, auth, engine: sa.Engine, order_id: str) -> None:  # noqa: ANN001
    task = await open_task(engine, f"pharmacy-{order_id}", "medication-verification")
    r = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "approve"},
                       headers=auth("pharmacist-1", "pharmacist"))
    assert r.status_code == 200, r.text


async def _discharge(api: httpx.AsyncClient, auth, journey_id: str) -> None:  # noqa: ANN001
    doctor = auth("attending-1", "attending_physician")
    assert (await api.post(f"/api/v1/journeys/{journey_id}/discharge", json={}, headers=doctor)).status_code == 202
    await _eventually(api, f"/api/v1/journeys/{journey_id}", doctor, lambda j: j["status"] == "completed")


def _other_patient_on_ward(engine: sa.Engine, ward: str = "medical") -> str:
    """A second patient in a stay on the same ward under the same attending (store only: no order, no journey)."""
    encounter_id = str(uuid.uuid4())
    with Session(engine) as s, s.begin():
        pid, _ = repo.register_patient(s, ephemeral_cipher(), str(uuid.uuid4()), "urn:hms:mrn",
                                       f"MRN-{uuid.uuid4().hex[:10]}", "Asha", "Rao", date(1980, 5, 17), "female")
        repo.create_encounter(s, encounter_id, pid, f"journey-{encounter_id}", ward, "observation")
        repo.assign_care_team(s, encounter_id, ward, "attending-1")
        repo.set_encounter_status(s, encounter_id, "in-progress", datetime.now(UTC))
    return pid


def _refusal(r: httpx.Response, status: int, element: str | None = None) -> None:
    assert r.status_code == status, r.text
    out = r.json()
    assert out["resourceType"] == "OperationOutcome"
    if element:
        assert element in out["issue"][0].get("expression", []), out


async def test_doses_recorded_and_corrected_over_fhir(api: httpx.AsyncClient, auth, db_engine: sa.Engine,  # noqa: ANN001
                                                      ledger: EmbeddedLedger) -> None:
    stay = await _stay(api, auth)
    pid = stay["patient_id"]
    doctor, nurse = {**auth("attending-1", "attending_physician"), **FHIR}, {**auth("nurse-medical-1", "nurse"), **FHIR}
    order_id = await _order(api, doctor, pid, doses=1)
    await _eventually(api, f"/fhir/r4/MedicationRequest/{order_id}", doctor, lambda o: True)
    url = "/fhir/r4/MedicationAdministration"
    _refusal(await api.post(url, json=dose(pid, order_id), headers=nurse), 409)  # not verified: no dose is due
    await _verify(api, auth, db_engine, order_id)
    task = await open_task(db_engine, f"pharmacy-{order_id}", "medication-administration")

    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    for body, element in (
            ({k: v for k, v in dose(pid, order_id).items() if k != "request"}, "MedicationAdministration.request"),
            (dose(pid, order_id, "on-hold"), "MedicationAdministration.statusReason"),
            (dose(pid, order_id, "in-progress"), "MedicationAdministration.status"),
            (dose(pid, order_id, subject={"reference": f"Patient/{_other_patient_on_ward(db_engine)}"}),
             "MedicationAdministration.subject"),
            (dose(pid, order_id, medicationCodeableConcept={"coding": [{"system": FORMULARY, "code": "723"}]}),
             "MedicationAdministration.medicationCodeableConcept"),
            (dose(pid, order_id, dosage={"dose": {"value": 10, "unit": "mg"}}), "MedicationAdministration.dosage.dose"),
            (dose(pid, order_id, effectiveDateTime=later), "MedicationAdministration.effectiveDateTime"),
            (dose(pid, order_id, performer=[{"actor": {"identifier": {"system": "urn:hms:user",
                                                                       "value": "nurse-psychiatry-1"}}}]),
             "MedicationAdministration.performer"),
            (dose(pid, order_id, note=[{"text": "crushed"}]), "MedicationAdministration.note")):
        _refusal(await api.post(url, json=body, headers=nurse), 422, element)
    for user, role in (("pharmacist-1", "pharmacist"), ("nurse-psychiatry-1", "nurse"),
                       ("attending-1", "attending_physician")):  # the attending passes the policy, not the task
        _refusal(await api.post(url, json=dose(pid, order_id), headers={**auth(user, role), **FHIR}), 403)

    given = await api.post(url, json=dose(pid, order_id, dosage={"dose": {"value": 5, "unit": "mg"},
                                                                   "route": {"text": "PO"}}), headers=nurse)
    assert given.status_code == 201, given.text
    record = given.json()
    assert record["id"] == task["id"] and record["status"] == "completed"
    assert record["performer"][0]["actor"]["identifier"]["value"] == "nurse-medical-1"
    assert given.headers["location"].startswith(f"https://hms.test/fhir/r4/MedicationAdministration/{task['id']}/")
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT status, completed_by FROM hms.tasks WHERE id = :t"),
                         {"t": task["id"]}).one() == ("completed", "nurse-medical-1")
    mar = (await api.get(f"/api/v1/patients/{pid}/mar", headers=nurse)).json()
    [entry] = [o for o in mar["orders"] if o["order_id"] == order_id]
    assert [(a["dose_number"], a["status"], a["recorded_by"]) for a in entry["administrations"]] == [
        (1, "given", "nurse-medical-1")]
    _refusal(await api.post(url, json=dose(pid, order_id), headers=nurse), 409)  # the same dose again

    # The eMAR is corrected, not rewritten: only status → entered-in-error, and it stays so.
    rec_url = f"{url}/{task['id']}"
    current = (await api.get(rec_url, headers=nurse)).json()
    _refusal(await api.put(rec_url, json={**current, "status": "not-done"}, headers=nurse), 422,
             "MedicationAdministration.status")
    _refusal(await api.put(rec_url, json={**current, "status": "entered-in-error",
                                          "subject": {"reference": f"Patient/{uuid.uuid4()}"}}, headers=nurse), 422,
             "MedicationAdministration.subject")
    _refusal(await api.put(rec_url, json={**current, "status": "entered-in-error"},
                           headers={**auth("pharmacist-1", "pharmacist"), **FHIR}), 403)
    corrected = await api.put(rec_url, json={**current, "status": "entered-in-error"},
                              headers={**nurse, "If-Match": f'W/"{current["meta"]["versionId"]}"'})
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["status"] == "entered-in-error"
    assert corrected.json()["note"][0]["authorReference"]["identifier"]["value"] == "nurse-medical-1"
    again = await api.put(rec_url, json={**current, "status": "entered-in-error"}, headers=nurse)
    assert again.status_code == 200 and again.json() == corrected.json()
    _refusal(await api.put(rec_url, json={**corrected.json(), "status": "completed"}, headers=nurse), 422,
             "MedicationAdministration.status")
    with db_engine.connect() as c:  # the original row is kept, with who corrected it
        assert c.execute(sa.text("SELECT status, recorded_by, entered_in_error_by FROM hms.medication_administrations "
                                 "WHERE id = :t"), {"t": task["id"]}).one() == ("given", "nurse-medical-1",
                                                                                "nurse-medical-1")
    mar = (await api.get(f"/api/v1/patients/{pid}/mar", headers=nurse)).json()  # the task API's eMAR says so too
    [entry] = [o for o in mar["orders"] if o["order_id"] == order_id]
    [(dose_entry)] = entry["administrations"]
    assert (dose_entry["status"], dose_entry["recorded_status"], dose_entry["entered_in_error_by"]) == (
        "entered-in-error", "given", "nurse-medical-1")
    events = [e.event for e in ledger.query(patient_id=pid)]
    decided = {(e.subtype, e.decision) for e in events if e.source == "api"}
    assert {("fhir.MedicationAdministration.create", "allow"), ("fhir.MedicationAdministration.update", "allow"),
            ("fhir.MedicationAdministration.create", "deny")} <= decided
    assert "medication.administration.given" in {e.subtype for e in events}  # the course wrote the eMAR row

    # A completed course cannot be cancelled.
    done = await _eventually(api, f"/fhir/r4/MedicationRequest/{order_id}", doctor,
                             lambda o: o["status"] == "completed")
    _refusal(await api.put(f"/fhir/r4/MedicationRequest/{order_id}",
                           json={**done, "status": "cancelled", "statusReason": {"text": "course changed"}},
                           headers=doctor), 409)
    await _discharge(api, auth, stay["journey_id"])


async def test_cancelling_a_medication_request_stops_doses_and_returns_stock(api: httpx.AsyncClient, auth,  # noqa: ANN001
                                                                             db_engine: sa.Engine) -> None:
    stay = await _stay(api, auth)
    pid = stay["patient_id"]
    doctor, nurse = {**auth("attending-1", "attending_physician"), **FHIR}, {**auth("nurse-medical-1", "nurse"), **FHIR}
    before = on_hand(db_engine, DRUG)
    order_id = await _order(api, doctor, pid, doses=3)
    await _verify(api, auth, db_engine, order_id)
    await open_task(db_engine, f"pharmacy-{order_id}", "medication-administration")
    assert on_hand(db_engine, DRUG) == before - 3
    held = await api.post("/fhir/r4/MedicationAdministration", headers=nurse,
                          json=dose(pid, order_id, "on-hold", statusReason=[{"text": "nil by mouth"}]))
    assert held.status_code == 201 and held.json()["status"] == "on-hold", held.text
    assert held.json()["statusReason"] == [{"text": "nil by mouth"}]

    url = f"/fhir/r4/MedicationRequest/{order_id}"
    current = (await api.get(url, headers=doctor)).json()
    cancel = {**current, "status": "cancelled", "statusReason": {"text": "switched to another agent"}}
    _refusal(await api.put(url, json={**cancel, "intent": "plan"}, headers=doctor), 422, "MedicationRequest.intent")
    _refusal(await api.put(url, json={**current, "status": "on-hold"}, headers=doctor), 422,
             "MedicationRequest.status")
    _refusal(await api.put(url, json={k: v for k, v in cancel.items() if k != "statusReason"}, headers=doctor), 422,
             "MedicationRequest.statusReason")
    _refusal(await api.put(url, json=cancel, headers=nurse), 403)
    _refusal(await api.put(url, json=cancel, headers={**auth("pharmacist-1", "pharmacist"), **FHIR}), 403)
    _refusal(await api.put(url, json=cancel, headers={**auth("attending-2", "attending_physician"), **FHIR}), 403)

    cancelled = await api.put(url, json=cancel, headers=doctor)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert on_hand(db_engine, DRUG) == before  # nothing was given: all three tablets went back
    assert movements(db_engine, order_id) == [("dispense", -3), ("return", 3)]
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM hms.tasks WHERE workflow_id = :w AND status = 'open'"),
                         {"w": f"pharmacy-{order_id}"}).scalar() == 0
    _refusal(await api.post("/fhir/r4/MedicationAdministration", json=dose(pid, order_id), headers=nurse), 409)
    again = await api.put(url, json={**cancel, "status": "stopped"}, headers=doctor)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"  # the same cancellation: no-op
    assert on_hand(db_engine, DRUG) == before
    task_api = await api.post(f"/api/v1/medication-orders/{order_id}/cancel", json={"reason": "again"},
                              headers=auth("attending-1", "attending_physician"))
    assert task_api.status_code == 409  # one course, one cancellation, whichever door
    await _discharge(api, auth, stay["journey_id"])


async def test_revoking_a_service_request_cancels_the_imaging_stage(api: httpx.AsyncClient, auth) -> None:  # noqa: ANN001
    stay = await _stay(api, auth)
    pid = stay["patient_id"]
    doctor = {**auth("attending-1", "attending_physician"), **FHIR}
    r = await api.post("/fhir/r4/ServiceRequest", json=imaging_order(pid, identifier=f"RIS-{uuid.uuid4().hex}"),
                       headers=doctor)
    assert r.status_code == 202, r.text
    order_id = r.headers["content-location"].rsplit("/", 1)[1]
    url = f"/fhir/r4/ServiceRequest/{order_id}"
    current = await _eventually(api, url, doctor, lambda o: o["status"] == "active")
    revoke = {**current, "status": "revoked"}
    _refusal(await api.put(url, json={**revoke, "priority": "routine"}, headers=doctor), 422,
             "ServiceRequest.priority")
    _refusal(await api.put(url, json={**current, "status": "completed"}, headers=doctor), 422,
             "ServiceRequest.status")
    for user, role in (("nurse-medical-1", "nurse"), ("radiologist-1", "radiologist"),
                       ("attending-2", "attending_physician")):
        _refusal(await api.put(url, json=revoke, headers={**auth(user, role), **FHIR}), 403)

    accepted = await api.put(url, json=revoke, headers=doctor)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["content-location"].endswith(f"/fhir/r4/ServiceRequest/{order_id}")
    revoked = await _eventually(api, url, doctor, lambda o: o["status"] == "revoked")
    journey = await _eventually(api, f"/api/v1/journeys/{stay['journey_id']}", doctor, lambda j: any(
        s["stage_id"] == order_id and s["status"] == "cancelled" for s in j["stages"]))
    assert [s["kind"] for s in journey["stages"] if s["stage_id"] == order_id] == ["imaging"]
    again = await api.put(url, json=revoked, headers=doctor)
    assert again.status_code == 200 and again.json()["status"] == "revoked"
    await _discharge(api, auth, stay["journey_id"])

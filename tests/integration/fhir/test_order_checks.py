"""ServiceRequest and MedicationRequest creates are checked like the task API's orders before any journey
is asked (modality, formulary, one dosage), authorized as the order routes are, and need a stay in progress.
These run without a workflow engine; ``tests/integration/api/test_fhir_orders.py`` starts real stages."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from tests.integration.fhir.conftest import FHIR, valid
from tests.integration.fhir.order_bodies import imaging_order, medication_order

JSON = {"Content-Type": FHIR}


async def test_invalid_orders_are_422_with_an_operation_outcome(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    pid = stay.patient_id
    bad = {
        "ServiceRequest": [
            imaging_order(pid, modality="XX"), imaging_order(pid, priority="stat"), imaging_order(pid, intent="plan"),
            imaging_order(pid, status="completed"), imaging_order(pid, bodySite=[{"text": "chest wall!"}]),
            {**imaging_order(pid), "reasonCode": []}, imaging_order(pid, status="bogus"),
        ],
        "MedicationRequest": [
            medication_order(pid, drug="999999"), medication_order(pid, route="IV"), medication_order(pid, unit="g"),
            medication_order(pid, dose=-1), medication_order(pid, dose=10_000),
            {**medication_order(pid), "dosageInstruction": []},
            {**medication_order(pid), "medicationCodeableConcept": {"text": "amlodipine"}},
        ],
    }
    for rtype, bodies in bad.items():
        for body in bodies:
            r = await fhir.post(f"/fhir/r4/{rtype}", json=body, headers=h)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["resourceType"] == "OperationOutcome"
    wrong = await fhir.post("/fhir/r4/ServiceRequest", json=medication_order(pid), headers=h)
    assert wrong.status_code == 400
    other = admitted()
    elsewhere = imaging_order(pid, encounter={"reference": f"Encounter/{other.encounter_id}"})
    assert (await fhir.post("/fhir/r4/ServiceRequest", json=elsewhere, headers=h)).status_code == 422


async def test_orders_are_authorized_like_the_task_apis(fhir, auth, admitted):
    stay = admitted()
    for rtype, body in (("ServiceRequest", imaging_order(stay.patient_id)),
                        ("MedicationRequest", medication_order(stay.patient_id))):
        for user, role in (("nurse-medical-1", "nurse"), ("pharmacist-1", "pharmacist"),
                           ("radiologist-1", "radiologist"), ("billing-1", "billing_clerk"),
                           ("attending-2", "attending_physician")):
            r = await fhir.post(f"/fhir/r4/{rtype}", json=body, headers={**auth(user, role), **JSON})
            assert r.status_code == 403, (rtype, role, r.text)
            assert r.json()["resourceType"] == "OperationOutcome"


async def test_an_order_needs_a_stay_in_progress_and_a_workflow_engine(fhir, fhir_services, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    r = await fhir.post("/fhir/r4/MedicationRequest", json=medication_order(stay.patient_id), headers=h)
    assert r.status_code == 503 and r.json()["resourceType"] == "OperationOutcome"  # no engine in this app
    course = medication_order(stay.patient_id)
    course["dosageInstruction"][0]["timing"]["repeat"] = {"frequency": 1, "period": 1, "periodUnit": "d",
                                                          "boundsDuration": {"value": 3, "code": "d"}}
    r = await fhir.post("/fhir/r4/MedicationRequest", json=course, headers=h)
    assert r.status_code == 503, r.text  # a course by duration passes the order checks
    both = medication_order(stay.patient_id)
    both["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"] = {"value": 3, "code": "d"}
    r = await fhir.post("/fhir/r4/MedicationRequest", json=both, headers=h)
    assert r.status_code == 422 and "exactly one" in r.json()["issue"][0]["diagnostics"]
    with fhir_services.sessions() as s, s.begin():
        s.execute(sa.text("UPDATE hms.encounters SET status = 'finished' WHERE id = :e"), {"e": stay.encounter_id})
    r = await fhir.post("/fhir/r4/ServiceRequest", json=imaging_order(stay.patient_id), headers=h)
    assert r.status_code == 409 and r.json()["resourceType"] == "OperationOutcome"


async def test_orders_stay_out_of_transactions_and_the_capability_statement_lists_them(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": imaging_order(stay.patient_id), "request": {"method": "POST", "url": "ServiceRequest"}}]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=h)
    assert r.status_code == 400 and "transaction" in r.json()["issue"][0]["diagnostics"]
    cap = valid((await fhir.get("/fhir/r4/metadata")).json())
    by_type = {res["type"]: {i["code"] for i in res["interaction"]} for res in cap["rest"][0]["resource"]}
    assert by_type["ServiceRequest"] == by_type["MedicationRequest"] == {"read", "search-type", "create",
                                                                          "update"}
    missing = str(uuid.uuid4())  # an update changes an order's status through its journey: the order must exist
    put = await fhir.put(f"/fhir/r4/ServiceRequest/{missing}", json={**imaging_order(stay.patient_id), "id": missing},
                         headers=h)
    assert put.status_code == 404, put.text

"""FHIR ServiceRequest and MedicationRequest creates start the journey's imaging and pharmacy stages, as the
task API's order routes do (real Temporal): 202 with Content-Location, readable once the stage recorded the
order, and a repeated create with the same identifier starts no second stage."""
from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.fhir.order_bodies import imaging_order, medication_order

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


async def _read_back(api: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict:
    for _ in range(300):  # the order row appears once the stage's first activity ran
        r = await api.get(url, headers=headers)
        if r.status_code != 404:
            assert r.status_code == 200, r.text
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} was never recorded")


async def test_fhir_orders_start_one_stage_each_and_read_back(api: httpx.AsyncClient, auth) -> None:  # noqa: ANN001
    started = await api.post("/api/v1/admissions", json=admission_body(),
                             headers=auth("registration-1", "registration_clerk"))
    assert started.status_code in (201, 202), started.text
    ids = started.json()
    await admitted(api, auth, ids["journey_id"])
    doctor = {**auth("attending-1", "attending_physician"), **FHIR}
    pid = ids["patient_id"]

    imaging = imaging_order(pid, identifier=f"RIS-{uuid.uuid4().hex}")
    first = await api.post("/fhir/r4/ServiceRequest", json=imaging, headers=doctor)
    again = await api.post("/fhir/r4/ServiceRequest", json=imaging, headers=doctor)
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert first.json()["resourceType"] == "OperationOutcome"
    location = first.headers["content-location"]
    assert location == again.headers["content-location"] and "/fhir/r4/ServiceRequest/" in location
    order_id = location.rsplit("/", 1)[1]

    medication = medication_order(pid, identifier=f"CPOE-{uuid.uuid4().hex}",
                                  encounter={"reference": f"Encounter/{ids['encounter_id']}"})
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": medication, "request": {"method": "POST", "url": "MedicationRequest"}}] * 2}
    r = await api.post("/fhir/r4", json=batch, headers=doctor)
    assert r.status_code == 200, r.text
    [one, two] = [e["response"] for e in r.json()["entry"]]
    assert one["status"] == two["status"] == "202 Accepted" and one["location"] == two["location"]
    med_id = one["location"].split("/")[1]

    journey = (await api.get(f"/api/v1/journeys/{ids['journey_id']}", headers=doctor)).json()
    stages = [(s["kind"], s["stage_id"]) for s in journey["stages"] if s["kind"] in ("imaging", "pharmacy")]
    assert sorted(stages) == [("imaging", order_id), ("pharmacy", med_id)]  # one stage per identifier

    service_request = await _read_back(api, f"/fhir/r4/ServiceRequest/{order_id}", doctor)
    assert service_request["code"]["coding"][0]["code"] == "CR" and service_request["priority"] == "urgent"
    assert service_request["subject"] == {"reference": f"Patient/{pid}"}
    pharmacist = {**auth("pharmacist-1", "pharmacist"), **FHIR}
    med = await _read_back(api, f"/fhir/r4/MedicationRequest/{med_id}", pharmacist)
    assert med["medicationCodeableConcept"]["coding"][0]["code"] == "17767"
    assert med["encounter"] == {"reference": f"Encounter/{ids['encounter_id']}"}
    assert med["requester"]["identifier"]["value"] == "attending-1"
    task_api = (await api.get(f"/api/v1/medication-orders/{med_id}", headers=pharmacist))
    assert task_api.status_code == 200, task_api.text

"""A lab's FHIR Observation for a stay reaches its journey; a critical one tasks the physician (real Temporal)."""
from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.fhir.conftest import observation

FHIR = {"Content-Type": "application/fhir+json"}


async def _journey(api: httpx.AsyncClient, auth, journey_id: str, probe) -> dict:  # noqa: ANN001
    for _ in range(300):
        r = await api.get(f"/api/v1/journeys/{journey_id}", headers=auth("attending-1", "attending_physician"))
        if r.status_code == 200 and probe(r.json()):
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"journey {journey_id} never reached the expected state: {r.text}")


async def test_a_posted_critical_observation_reaches_the_journey_and_is_reviewed(api: httpx.AsyncClient,
                                                                                 auth) -> None:  # noqa: ANN001
    started = await api.post("/api/v1/admissions", json=admission_body(),
                             headers=auth("registration-1", "registration_clerk"))
    assert started.status_code in (201, 202), started.text
    ids = started.json()
    await admitted(api, auth, ids["journey_id"])
    nurse = {**auth("nurse-medical-1", "nurse"), **FHIR}
    routine = observation(ids["patient_id"], ids["encounter_id"], identifier=f"acc-{uuid.uuid4().hex}")
    critical = observation(ids["patient_id"], ids["encounter_id"], code="2823-3", value=7.1,
                           identifier=f"acc-{uuid.uuid4().hex}")
    critical["interpretation"] = [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}]}]
    r1 = await api.post("/fhir/r4/Observation", json=routine, headers=nurse)
    r2 = await api.post("/fhir/r4/Observation", json=critical, headers=nurse)
    assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
    critical_id = r2.json()["id"]

    journey = await _journey(api, auth, ids["journey_id"],
                             lambda j: len(j["results"]) == 2 and any(s["kind"] == "result-review"
                                                                      for s in j["stages"]))
    assert {(r["observation_id"], r["interpretation"], r["source"]) for r in journey["results"]} == {
        (r1.json()["id"], None, "fhir"), (critical_id, "HH", "fhir")}
    [review] = [s for s in journey["stages"] if s["kind"] == "result-review"]
    assert review["stage_id"] == critical_id and review["status"] == "running"

    # The attending finds the review in their inbox and acknowledges it through the task API.
    attending = auth("attending-1", "attending_physician")
    for _ in range(300):
        inbox = (await api.get("/api/v1/tasks", params={"patient": ids["patient_id"]}, headers=attending)).json()
        tasks = [t for t in inbox if t["type"] == "review-critical-result"]
        if tasks:
            break
        await asyncio.sleep(0.1)
    [task] = tasks
    assert task["details"]["observation_id"] == critical_id and "value" not in task["details"]
    done = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"action": "acknowledged"},
                          headers=attending)
    assert done.status_code == 200, done.text
    journey = await _journey(api, auth, ids["journey_id"],
                             lambda j: any(s["kind"] == "result-review" and s["status"] == "completed"
                                           for s in j["stages"]))
    r = await api.post(f"/api/v1/journeys/{ids['journey_id']}/discharge", json={}, headers=attending)
    assert r.status_code == 202

"""Observations over FHIR: create (idempotent by identifier), read, update, search, _include, triage vitals."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from activities.storage.models_triage import VitalSigns
from tests.integration.fhir.conftest import FHIR, observation, valid

JSON = {"Content-Type": FHIR}


async def test_create_read_update_versions(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    r = await fhir.post("/fhir/r4/Observation", json=observation(stay.patient_id, stay.encounter_id), headers=h)
    assert r.status_code == 201, r.text
    obs = valid(r.json())
    assert obs["meta"]["versionId"] == "1" and obs["valueQuantity"]["value"] == 5.4
    got = await fhir.get(f"/fhir/r4/Observation/{obs['id']}", headers=h)
    assert got.status_code == 200 and got.headers["etag"] == 'W/"1"'
    assert got.json() == obs  # what create answered (not read back) is what is stored
    changed = {**obs, "valueQuantity": {**obs["valueQuantity"], "value": 6.1}, "status": "amended"}
    r = await fhir.put(f"/fhir/r4/Observation/{obs['id']}", json=changed, headers={**h, "If-Match": 'W/"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["versionId"] == "2" and r.json()["valueQuantity"]["value"] == 6.1
    stale = await fhir.put(f"/fhir/r4/Observation/{obs['id']}", json=changed, headers={**h, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    other = admitted()
    moved = {**changed, "subject": {"reference": f"Patient/{other.patient_id}"}}
    r = await fhir.put(f"/fhir/r4/Observation/{obs['id']}", json=moved, headers=h)
    assert r.status_code == 422


async def test_identifier_makes_create_idempotent(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    body = observation(stay.patient_id, stay.encounter_id, identifier=f"ACC-{uuid.uuid4().hex}")
    first = await fhir.post("/fhir/r4/Observation", json=body, headers=h)
    second = await fhir.post("/fhir/r4/Observation", json=body, headers=h)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json() == first.json()


async def test_invalid_observations_are_refused(fhir, auth, admitted):
    stay, other = admitted(), admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    no_status = observation(stay.patient_id)
    del no_status["status"]
    wrong_encounter = observation(stay.patient_id, other.encounter_id)
    for body, status in ((no_status, 422), (wrong_encounter, 422), ({**observation(stay.patient_id),
                                                                     "valueQuantity": "high"}, 422)):
        r = await fhir.post("/fhir/r4/Observation", json=body, headers=h)
        assert r.status_code == status, r.text


async def test_search_filters_sort_paging_include(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    for day, code in ((1, "2345-7"), (2, "2345-7"), (3, "718-7"), (4, "2345-7")):
        body = observation(stay.patient_id, stay.encounter_id, code=code, when=f"2026-10-0{day}T08:00:00Z")
        assert (await fhir.post("/fhir/r4/Observation", json=body, headers=h)).status_code == 201

    async def dates(query: str) -> list[str]:
        r = await fhir.get(f"/fhir/r4/Observation?patient={stay.patient_id}&{query}", headers=h)
        assert r.status_code == 200, r.text
        return [e["resource"]["effectiveDateTime"][8:10] for e in valid(r.json())["entry"]
                if e["search"]["mode"] == "match"]

    assert await dates("_sort=date") == ["01", "02", "03", "04"]
    assert await dates("code=http://loinc.org|2345-7&_sort=-date") == ["04", "02", "01"]
    assert await dates("code=718-7,2345-7&date=gt2026-10-02&_sort=date") == ["03", "04"]
    assert await dates("date=le2026-10-02&_sort=date") == ["01", "02"]
    assert await dates("date=ne2026-10-03&date=ge2026-10-02&_sort=date") == ["02", "04"]
    assert await dates("date=eq2026-10&category=laboratory&status=final&_sort=date") == ["01", "02", "03", "04"]
    assert await dates(f"encounter=Encounter/{stay.encounter_id}&date=2026-10-04") == ["04"]
    first = (await fhir.get(f"/fhir/r4/Observation?subject=Patient/{stay.patient_id}&_count=3&_sort=date"
                            f"&_include=Observation:patient&_include=Observation:encounter", headers=h)).json()
    modes = [e["search"]["mode"] for e in first["entry"]]
    assert modes.count("match") == 3
    included = {e["resource"]["resourceType"] for e in first["entry"] if e["search"]["mode"] == "include"}
    assert included == {"Patient", "Encounter"}
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    rest = (await fhir.get(nxt.replace("https://hms.test", ""), headers=h)).json()
    assert [e["resource"]["effectiveDateTime"][8:10] for e in rest["entry"] if e["search"]["mode"] == "match"] \
        == ["04"]
    enc = (await fhir.get(f"/fhir/r4/Encounter?patient={stay.patient_id}&_include=Encounter:patient",
                          headers=h)).json()
    assert [e["resource"]["resourceType"] for e in enc["entry"]] == ["Encounter", "Patient"]
    assert enc["entry"][0]["resource"]["identifier"][0]["value"] == f"journey-{stay.encounter_id}"


async def test_triage_vitals_are_read_only_observations(fhir, fhir_services, auth, admitted):
    stay = admitted()
    vid = f"{uuid.uuid4()}-0-vitals"
    with fhir_services.sessions() as s, s.begin():
        s.add(VitalSigns(id=vid, patient_id=stay.patient_id, encounter_id=stay.encounter_id, triage_id="t-1",
                         status="final", recorded_by="triage-nurse-1", effective_at=datetime(2026, 11, 1, tzinfo=UTC),
                         values={"respiratory_rate": 22, "spo2": 93, "systolic_bp": 101, "heart_rate": 111,
                                 "temperature": 38.4, "consciousness": "A", "on_oxygen": False, "age": 50,
                                 "complaint": "breathless"}))
    h = {**auth("nurse-medical-1", "nurse"), **JSON}
    r = await fhir.get(f"/fhir/r4/Observation?patient={stay.patient_id}&category=vital-signs", headers=h)
    assert r.status_code == 200, r.text
    [entry] = valid(r.json())["entry"]
    vitals = entry["resource"]
    assert vitals["id"] == f"vs-{vid}"
    codes = {c["code"]["coding"][0]["code"]: c for c in vitals["component"]}
    assert codes["8867-4"]["valueQuantity"]["value"] == 111 and "breathless" not in r.text
    by_code = await fhir.get(f"/fhir/r4/Observation?patient={stay.patient_id}&code=http://loinc.org|9279-1",
                             headers=h)
    assert [e["resource"]["id"] for e in by_code.json()["entry"]] == [f"vs-{vid}"]
    put = await fhir.put(f"/fhir/r4/Observation/vs-{vid}", json=vitals,
                         headers={**auth("attending-1", "attending_physician"), **JSON})
    assert put.status_code == 405


async def test_everything(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    await fhir.post("/fhir/r4/Observation", json=observation(stay.patient_id, stay.encounter_id), headers=h)
    r = await fhir.get(f"/fhir/r4/Patient/{stay.patient_id}/$everything", headers=h)
    assert r.status_code == 200, r.text
    types = [e["resource"]["resourceType"] for e in valid(r.json())["entry"]]
    assert types[0] == "Patient" and {"Encounter", "Observation"} <= set(types)
    denied = await fhir.get(f"/fhir/r4/Patient/{stay.patient_id}/$everything",
                            headers=auth("attending-2", "attending_physician"))
    assert denied.status_code == 403

"""Encounter and Condition writes over FHIR.

An Encounter create is an admission carried out by the patient's journey (real Temporal dev server and
worker): 202 with Content-Location, readable once the journey recorded the stay, idempotent on its
identifier, refused while another stay is in progress. An update takes only what the journey allows.
Conditions are a real problem-list store, sealed per patient, labels enforced by the policy.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
import sqlalchemy as sa

from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from deploy.tokens import issuer_key
from policies.embedded import EmbeddedPolicyEngine
from tests.integration.conftest import journey_worker
from tests.integration.fhir.conftest import FHIR, valid
from workflows.contracts import DischargeRequest
from workflows.journey import PatientJourney

JSON = {"Content-Type": FHIR}
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@pytest.fixture
async def engine_fhir(temporal_env, db_engine, ledger, task_queue, fhir_settings,  # noqa: ANN001
                      model_registry) -> AsyncIterator[httpx.AsyncClient]:
    """The FHIR facade with a workflow engine and a journey worker (same tokens as the ``fhir`` fixture)."""
    services = ApiServices(
        sessions=make_session_factory(db_engine), policy=EmbeddedPolicyEngine(), ledger=ledger,
        verifier=TokenVerifier(issuer=fhir_settings.token_issuer, audience=fhir_settings.token_audience,
                               public_key=issuer_key(fhir_settings).public_key()),
        index_key=b"f" * 32, task_queue=task_queue, temporal=temporal_env.client, models=model_registry)
    async with journey_worker(temporal_env, db_engine, ledger, task_queue, model_registry):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services)),
                                     base_url="https://hms.test") as client:
            yield client


def _registered(services: ApiServices) -> str:
    with services.sessions() as s, s.begin():
        pid, _ = repo.register_patient(s, services.field_cipher, str(uuid.uuid4()), "urn:hms:mrn",
                                       f"MRN-{uuid.uuid4().hex[:10]}", "Meera", "Iyer", date(1975, 3, 2), "female")
    return pid


def admission(patient_id: str, *, ward: str = "medical", attending: str | None = "attending-1",
              ident: str | None = None, **extra: object) -> dict:
    body: dict = {
        "resourceType": "Encounter", "status": "planned",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{patient_id}"}, "reasonCode": [{"text": "community-acquired pneumonia"}],
        "location": [{"location": {"identifier": {"system": "urn:hms:ward", "value": ward}}}],
    }
    if attending:
        body["participant"] = [{"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                "v3-ParticipationType", "code": "ATND"}]}],
                                "individual": {"identifier": {"system": "urn:hms:user", "value": attending}}}]
    if ident:
        body["identifier"] = [{"system": "urn:ext:visit", "value": ident}]
    return {**body, **extra}


async def _recorded(api: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict:
    for _ in range(300):  # the stay appears once the journey's admission has opened it
        r = await api.get(url, headers=headers)
        if r.status_code == 200 and r.json()["status"] == "in-progress":
            return r.json()
        assert r.status_code in (200, 404), r.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} was never recorded")


async def test_encounter_create_admits_through_the_journey(engine_fhir, fhir_services, auth, temporal_env):
    pid = _registered(fhir_services)
    clerk = {**auth("registration-1", "registration_clerk"), **JSON}
    doctor = {**auth("attending-1", "attending_physician"), **JSON}
    body = admission(pid, ident=f"V-{uuid.uuid4().hex}")
    first = await engine_fhir.post("/fhir/r4/Encounter", json=body, headers=clerk)
    assert first.status_code == 202, first.text
    assert valid(first.json())["resourceType"] == "OperationOutcome"
    location = first.headers["content-location"]
    eid = location.rsplit("/Encounter/", 1)[1]
    again = await engine_fhir.post("/fhir/r4/Encounter", json=body, headers=clerk)
    assert again.status_code in (200, 202), again.text  # the journey already runs, or has recorded the stay
    assert (again.headers.get("content-location") or again.json()["id"]).endswith(eid)

    stay = valid(await _recorded(engine_fhir, f"/fhir/r4/Encounter/{eid}", doctor))
    assert stay["class"]["code"] == "IMP" and stay["subject"] == {"reference": f"Patient/{pid}"}
    assert stay["identifier"] == [{"system": "urn:hms:journey", "value": f"journey-{eid}"}]
    assert stay["location"][0]["location"]["identifier"]["value"] == "medical"
    assert stay["participant"][0]["individual"]["identifier"]["value"] == "attending-1"
    assert stay["reasonCode"] == [{"text": "community-acquired pneumonia"}]
    handle = temporal_env.client.get_workflow_handle_for(PatientJourney.run, f"journey-{eid}")
    journey = await handle.query(PatientJourney.state)
    assert journey.stage == "admitted" and journey.encounter_id == eid

    repeat = await engine_fhir.post("/fhir/r4/Encounter", json=body, headers=clerk)
    assert repeat.status_code == 200 and repeat.json()["id"] == eid  # the recorded stay, nothing new started
    other = await engine_fhir.post("/fhir/r4/Encounter", json=admission(pid, ident="another"), headers=clerk)
    assert other.status_code == 409 and eid in other.json()["issue"][0]["diagnostics"]

    # Updates: only what the journey allows.
    changed = {**stay, "reasonCode": [{"text": "pneumonia with sepsis"}]}
    r = await engine_fhir.put(f"/fhir/r4/Encounter/{eid}", json=changed,
                              headers={**doctor, "If-Match": f'W/"{stay["meta"]["versionId"]}"'})
    assert r.status_code == 200 and r.json()["reasonCode"] == [{"text": "pneumonia with sepsis"}], r.text
    stale = await engine_fhir.put(f"/fhir/r4/Encounter/{eid}", json=stay,
                                  headers={**doctor, "If-Match": f'W/"{stay["meta"]["versionId"]}"'})
    assert stale.status_code == 412
    reason = await engine_fhir.get(f"/fhir/r4/Condition/enc-{eid}", headers=doctor)
    assert reason.json()["code"]["text"] == "pneumonia with sepsis"  # the stay's Condition follows it
    current = r.json()
    refusals = {
        409: [{**current, "status": "finished"}],
        422: [{**current, "location": admission(pid, ward="surgical")["location"]},
              {**current, "participant": admission(pid, attending="attending-2")["participant"]},
              {**current, "status": "cancelled"}, {**current, "period": {"start": "2020-01-01"}},
              {**current, "reasonCode": [{"coding": [{"system": ICD10, "code": "J18.9"}]}]}],
    }
    for status, bodies in refusals.items():
        for changed in bodies:
            r = await engine_fhir.put(f"/fhir/r4/Encounter/{eid}", json=changed, headers=doctor)
            assert r.status_code == status, (changed, r.text)
            assert valid(r.json())["resourceType"] == "OperationOutcome"
    assert "discharge" in (await engine_fhir.put(f"/fhir/r4/Encounter/{eid}", json={**current, "status": "finished"},
                                                 headers=doctor)).json()["issue"][0]["diagnostics"]
    await handle.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))


async def test_encounter_create_refusals(fhir, fhir_services, auth, admitted):
    pid = _registered(fhir_services)
    clerk = {**auth("registration-1", "registration_clerk"), **JSON}
    emergency = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"}
    cases = {
        "Encounter.location": admission(pid, ward="mars"),
        "Encounter.participant": admission(pid, attending="nurse-medical-1"),
        "Encounter.class": admission(pid, **{"class": emergency}),
        "Encounter.subject": admission(str(uuid.uuid4())),
        "Encounter.period": admission(pid, period={"start": "2026-01-01"}),
        "Encounter.status": admission(pid, status="finished"),
        "Encounter.reasonCode": admission(pid, reasonCode=[{"coding": [{"system": ICD10, "code": "J18.9"}]}]),
    }
    for element, body in cases.items():
        r = await fhir.post("/fhir/r4/Encounter", json=body, headers=clerk)
        assert r.status_code == 422, (element, r.text)
        assert valid(r.json())["issue"][0]["expression"] == [element]
    busy = admitted()
    r = await fhir.post("/fhir/r4/Encounter", json=admission(busy.patient_id), headers=clerk)
    assert r.status_code == 409 and busy.encounter_id in r.json()["issue"][0]["diagnostics"]
    nurse = await fhir.post("/fhir/r4/Encounter", json=admission(pid), headers={**auth("nurse-medical-1", "nurse"),
                                                                                  **JSON})
    assert nurse.status_code == 403
    no_engine = await fhir.post("/fhir/r4/Encounter", json=admission(pid), headers=clerk)
    assert no_engine.status_code == 503  # every check passed; this app has no workflow engine
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": admission(pid), "request": {"method": "POST", "url": "Encounter"}}]}
    assert (await fhir.post("/fhir/r4", json=bundle, headers=clerk)).status_code == 400


def condition(patient_id: str, *, encounter_id: str | None = None, ident: str | None = None,
              category: str = "problem-list-item", clinical: str | None = "active",
              security: list[str] | None = None, code: str = "I10", text: str = "Essential hypertension") -> dict:
    body: dict = {
        "resourceType": "Condition", "subject": {"reference": f"Patient/{patient_id}"},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": category}]}],
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": "confirmed"}]},
        "code": {"coding": [{"system": ICD10, "code": code, "display": text}], "text": text},
        "onsetDateTime": "2019-06-01",
    }
    if clinical:
        body["clinicalStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                              "code": clinical}]}
    if encounter_id:
        body["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    if ident:
        body["identifier"] = [{"system": "urn:ext:problem", "value": ident}]
    if security:
        body["meta"] = {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c}
                                     for c in security]}
    return body


async def test_condition_create_read_search_update(fhir, fhir_services, auth, admitted):
    stay = admitted()
    doctor = {**auth("attending-1", "attending_physician"), **JSON}
    body = condition(stay.patient_id, encounter_id=stay.encounter_id, ident=f"P-{uuid.uuid4().hex}")
    created = await fhir.post("/fhir/r4/Condition", json=body, headers=doctor)
    assert created.status_code == 201, created.text
    stored = valid(created.json())
    cid = stored["id"]
    assert stored["meta"]["versionId"] == "1" and stored["code"]["coding"][0]["code"] == "I10"
    assert stored["recorder"]["identifier"]["value"] == "attending-1"
    resent = await fhir.post("/fhir/r4/Condition", json=body, headers=doctor)
    assert resent.status_code == 200 and resent.json()["id"] == cid
    assert (await fhir.get(f"/fhir/r4/Condition/{cid}", headers=doctor)).json()["onsetDateTime"] == "2019-06-01"

    with fhir_services.sessions() as s:
        row = s.execute(sa.text("SELECT * FROM hms.conditions WHERE id = :i"), {"i": cid}).mappings().one()
    raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    assert b"hypertension" not in raw.lower() and b"I10" not in raw and b"2019-06-01" not in raw

    base = f"/fhir/r4/Condition?patient={stay.patient_id}"
    async def ids(query: str) -> set[str]:
        r = await fhir.get(base + query, headers=doctor)
        assert r.status_code == 200, r.text
        return {valid(e["resource"])["id"] for e in r.json()["entry"]}
    assert await ids("") == {cid, f"enc-{stay.encounter_id}"}
    assert await ids(f"&code={ICD10}|I10") == await ids("&code=I10") == {cid}
    assert await ids("&code=E11") == set()
    assert await ids("&category=encounter-diagnosis") == {f"enc-{stay.encounter_id}"}
    assert await ids("&category=problem-list-item&clinical-status=active") == {cid}
    assert await ids(f"&encounter={stay.encounter_id}&_id={cid}") == {cid}

    resolved = {**stored, "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                   "condition-clinical", "code": "resolved"}]},
                "abatementDateTime": "2026-01-02"}
    r = await fhir.put(f"/fhir/r4/Condition/{cid}", json=resolved, headers={**doctor, "If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.json()["meta"]["versionId"] == "2", r.text
    assert r.json()["abatementDateTime"] == "2026-01-02"
    stale = await fhir.put(f"/fhir/r4/Condition/{cid}", json=resolved, headers={**doctor, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert await ids("&clinical-status=resolved") == {cid}
    derived = (await fhir.get(f"/fhir/r4/Condition/enc-{stay.encounter_id}", headers=doctor)).json()
    r = await fhir.put(f"/fhir/r4/Condition/enc-{stay.encounter_id}", json={**derived, "code": {"text": "x"}},
                       headers=doctor)
    assert r.status_code == 422 and "follows the stay" in r.json()["issue"][0]["diagnostics"]
    moved = {**resolved, "meta": {}, "subject": {"reference": f"Patient/{admitted().patient_id}"}}
    assert (await fhir.put(f"/fhir/r4/Condition/{cid}", json=moved, headers=doctor)).status_code == 422


async def test_condition_labels_and_refusals(fhir, auth, admitted):
    stay, other = admitted(), admitted()
    doctor = {**auth("attending-1", "attending_physician"), **JSON}
    billing = {**auth("billing-1", "billing_clerk"), **JSON}
    hiv = await fhir.post("/fhir/r4/Condition", json=condition(stay.patient_id, security=["HIV"], code="B20",
                                                                text="HIV disease"), headers=doctor)
    plain = await fhir.post("/fhir/r4/Condition", json=condition(stay.patient_id), headers=doctor)
    assert hiv.status_code == plain.status_code == 201, hiv.text
    hid, pid = hiv.json()["id"], plain.json()["id"]
    assert [s["code"] for s in hiv.json()["meta"]["security"]] == ["HIV"]
    assert (await fhir.get(f"/fhir/r4/Condition/{hid}", headers=doctor)).status_code == 200
    assert (await fhir.get(f"/fhir/r4/Condition/{hid}", headers=billing)).status_code == 403
    assert (await fhir.get(f"/fhir/r4/Condition/{pid}", headers=billing)).status_code == 200  # diagnosis codes
    seen = (await fhir.get(f"/fhir/r4/Condition?patient={stay.patient_id}", headers=billing)).json()
    assert {e["resource"]["id"] for e in seen["entry"]} == {pid, f"enc-{stay.encounter_id}"}
    bad = {
        422: [condition(stay.patient_id, category="health-concern"), condition(stay.patient_id, clinical=None),
              condition(stay.patient_id, security=["XYZ"]),
              condition(stay.patient_id, encounter_id=other.encounter_id),
              {**condition(stay.patient_id), "code": {"coding": [{"code": "I10"}]}}],
        403: [condition(str(uuid.uuid4()))],
    }
    for status, bodies in bad.items():
        for body in bodies:
            r = await fhir.post("/fhir/r4/Condition", json=body, headers=doctor)
            assert r.status_code == status, (body, r.text)
            assert valid(r.json())["resourceType"] == "OperationOutcome"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": condition(stay.patient_id, code="E11", text="Type 2 diabetes"),
         "request": {"method": "POST", "url": "Condition"}},
        {"resource": condition(stay.patient_id, category="health-concern"),
         "request": {"method": "POST", "url": "Condition"}}]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=doctor)
    assert r.status_code == 422 and "entry[1]" in r.json()["issue"][0]["diagnostics"]
    bundle["entry"].pop()
    r = await fhir.post("/fhir/r4", json=bundle, headers=doctor)
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["201 Created"], r.text
    [diabetes] = (await fhir.get(f"/fhir/r4/Condition?patient={stay.patient_id}&code=E11", headers=doctor)
                  ).json()["entry"]  # the rolled-back one was never stored
    assert diabetes["resource"]["code"]["text"] == "Type 2 diabetes"
    for user, role in (("nurse-medical-1", "nurse"), ("billing-1", "billing_clerk"), ("attending-2",
                                                                                       "attending_physician")):
        r = await fhir.post("/fhir/r4/Condition", json=condition(stay.patient_id), headers={**auth(user, role), **JSON})
        assert r.status_code == 403, (role, r.text)


async def test_capability_statement_lists_the_writes(fhir):
    cap = valid((await fhir.get("/fhir/r4/metadata")).json())
    by_type = {res["type"]: res for res in cap["rest"][0]["resource"]}
    for rtype in ("Encounter", "Condition"):
        assert {i["code"] for i in by_type[rtype]["interaction"]} == {"read", "search-type", "create", "update"}
    assert "admits" in by_type["Encounter"]["documentation"]
    assert {"code", "category"} <= {p["name"] for p in by_type["Condition"]["searchParam"]}

"""Transactions (all or nothing, urn:uuid references), batches, authorization and the audit trail."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from activities.storage.models_observations import Observation
from tests.integration.fhir.conftest import FHIR, observation, valid
from tests.integration.fhir.test_patient_api import new_patient

JSON = {"Content-Type": FHIR}


def _stored(services, patient_id: str) -> int:
    with services.sessions() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Observation).where(Observation.patient_id == patient_id))


async def test_transaction_rewrites_urn_uuid_references(fhir, fhir_services, auth, admitted):
    stay = admitted()
    panel, member = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    parent = {**observation(stay.patient_id, stay.encounter_id, code="24323-8"), "hasMember": [{"reference": member}]}
    del parent["valueQuantity"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": panel, "resource": parent, "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": member, "resource": observation(stay.patient_id, stay.encounter_id),
         "request": {"method": "POST", "url": "Observation"}},
    ]}
    r = await fhir.post("/fhir/r4", json=bundle, headers={**auth("attending-1", "attending_physician"), **JSON})
    assert r.status_code == 200, r.text
    out = valid(r.json())
    assert out["type"] == "transaction-response"
    assert [e["response"]["status"] for e in out["entry"]] == ["201 Created", "201 Created"]
    member_id = out["entry"][1]["response"]["location"].split("/")[1]
    panel_id = out["entry"][0]["response"]["location"].split("/")[1]
    got = (await fhir.get(f"/fhir/r4/Observation/{panel_id}", headers=auth("attending-1", "attending_physician")))
    assert got.json()["hasMember"] == [{"reference": f"Observation/{member_id}"}]
    created = {e.event.resource_id for e in fhir_services.ledger.query(patient_id=stay.patient_id)
               if e.event.subtype == "fhir.Observation.create" and e.event.decision == "allow"}
    assert created == {panel_id, member_id}  # one decision, one ledger entry per written resource


async def test_transaction_is_all_or_nothing(fhir, fhir_services, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    bad = observation(stay.patient_id, stay.encounter_id)
    bad["encounter"] = {"reference": f"Encounter/{uuid.uuid4()}"}  # valid R4, refused by the store
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": observation(stay.patient_id, stay.encounter_id), "request": {"method": "POST", "url": "Observation"}},
        {"resource": observation(stay.patient_id, stay.encounter_id), "request": {"method": "POST", "url": "Observation"}},
        {"resource": bad, "request": {"method": "POST", "url": "Observation"}},
    ]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=h)
    assert r.status_code == 422, r.text
    assert "entry[2]" in r.json()["issue"][0]["diagnostics"]
    assert _stored(fhir_services, stay.patient_id) == 0
    # Duplicate identifiers among new Patients: the first is rolled back with the second.
    clerk = {**auth("registration-1", "registration_clerk"), **JSON}
    mrn = f"MRN-{uuid.uuid4().hex[:10]}"
    first, dup = new_patient(f"{mrn}-a"), new_patient(f"{mrn}-a")
    dup["identifier"].insert(0, {"system": "urn:hms:mrn", "value": f"{mrn}-b"})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": first, "request": {"method": "POST", "url": "Patient"}},
        {"resource": dup, "request": {"method": "POST", "url": "Patient"}}]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=clerk)
    assert r.status_code == 409, r.text
    found = await fhir.get(f"/fhir/r4/Patient?identifier=urn:hms:mrn|{mrn}-a", headers=clerk)
    assert found.json()["entry"] == []
    # An entry the policy refuses stops the whole transaction before anything is written.
    other = admitted(ward="icu", attending="attending-2")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": observation(stay.patient_id), "request": {"method": "POST", "url": "Observation"}},
        {"resource": observation(other.patient_id), "request": {"method": "POST", "url": "Observation"}}]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=h)
    assert r.status_code == 403
    assert _stored(fhir_services, stay.patient_id) == 0


async def test_batch_answers_each_entry(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": observation(stay.patient_id), "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "Observation"}, "request": {"method": "POST", "url": "Observation"}},
        {"request": {"method": "GET", "url": f"Patient/{stay.patient_id}"}},
        {"request": {"method": "GET", "url": "Patient/nobody"}},
        {"request": {"method": "DELETE", "url": "Patient/nobody"}},
    ]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=h)
    assert r.status_code == 200, r.text
    out = valid(r.json())
    assert [e["response"]["status"] for e in out["entry"]] == ["201 Created", "422", "200 OK", "404", "400"]
    assert out["entry"][2]["resource"]["id"] == stay.patient_id
    assert out["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


async def test_bad_bundles(fhir, auth):
    h = {**auth("attending-1", "attending_physician"), **JSON}
    for body in ({"resourceType": "Bundle", "type": "collection"}, {"resourceType": "Patient"}, [],
                 {"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "GET"}}]},
                 {"resourceType": "Bundle", "type": "transaction", "entry": [
                     {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                   "subject": {"reference": "urn:uuid:nowhere"}},
                      "request": {"method": "POST", "url": "Observation"}}]}):
        r = await fhir.post("/fhir/r4", json=body, headers=h)
        assert r.status_code == 400, (body, r.text)


async def test_policy_decides_and_ledger_records(fhir, fhir_services, auth, admitted):
    stay = admitted(ward="surgical", attending="attending-2")
    doctor = {**auth("attending-2", "attending_physician"), **JSON}
    plain = (await fhir.post("/fhir/r4/Observation", json=observation(stay.patient_id, stay.encounter_id),
                             headers=doctor)).json()
    psy = await fhir.post("/fhir/r4/Observation", headers=doctor,
                          json=observation(stay.patient_id, stay.encounter_id, security=["PSY"], code="718-7"))
    assert psy.status_code == 201, psy.text
    psy_id = psy.json()["id"]
    # A nurse on the ward but not on the care team: the plain result, not the PSY-labelled one.
    nurse = auth("nurse-medical-1", "nurse")
    assert (await fhir.get(f"/fhir/r4/Observation/{plain['id']}", headers=nurse)).status_code == 200
    denied = await fhir.get(f"/fhir/r4/Observation/{psy_id}", headers=nurse)
    assert denied.status_code == 403 and denied.json()["issue"][0]["code"] == "forbidden"
    found = (await fhir.get(f"/fhir/r4/Observation?patient={stay.patient_id}", headers=nurse)).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [plain["id"]]
    # Billing reads the stay, never results; another attending sees nothing of this patient.
    billing = auth("billing-1", "billing_clerk")
    assert (await fhir.get(f"/fhir/r4/Encounter/{stay.encounter_id}", headers=billing)).status_code == 200
    assert (await fhir.get(f"/fhir/r4/Observation?patient={stay.patient_id}", headers=billing)).status_code == 403
    stranger = auth("attending-1", "attending_physician")
    assert (await fhir.get(f"/fhir/r4/Patient/{stay.patient_id}", headers=stranger)).status_code == 403
    entries = fhir_services.ledger.query(patient_id=stay.patient_id)
    seen = {(e.event.actor, e.event.subtype, e.event.decision) for e in entries}
    assert ("attending-2", "fhir.Observation.create", "allow") in seen
    assert ("nurse-medical-1", "fhir.Observation.read", "allow") in seen
    assert ("nurse-medical-1", "fhir.Observation.read", "deny") in seen
    assert ("billing-1", "fhir.Observation.search", "deny") in seen
    assert ("attending-1", "fhir.Patient.read", "deny") in seen


async def test_consent_and_allergy(fhir, auth, admitted):
    stay = admitted()
    clerk = {**auth("registration-1", "registration_clerk"), **JSON}
    consent = {"resourceType": "Consent", "status": "active",
               "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                     "code": "patient-privacy"}]},
               "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
               "patient": {"reference": f"Patient/{stay.patient_id}"},
               "provision": {"purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                          "code": "HRESCH"}]}}
    r = await fhir.post("/fhir/r4/Consent", json=consent, headers=clerk)
    assert r.status_code == 201, r.text
    withdraw = await fhir.post("/fhir/r4/Consent", json={**consent, "status": "inactive"}, headers=clerk)
    assert withdraw.status_code == 201, withdraw.text
    again = await fhir.post("/fhir/r4/Consent", json={**consent, "status": "inactive"}, headers=clerk)
    assert again.status_code == 409
    doctor = {**auth("attending-1", "attending_physician"), **JSON}
    history = (await fhir.get(f"/fhir/r4/Consent?patient={stay.patient_id}", headers=doctor)).json()
    assert sorted(valid(e["resource"])["status"] for e in history["entry"]) == ["active", "inactive"]
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": f"Patient/{stay.patient_id}"},
               "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7980"}]},
               "criticality": "high", "reaction": [{"manifestation": [{"text": "urticaria"}]}]}
    r = await fhir.post("/fhir/r4/AllergyIntolerance", json=allergy, headers=doctor)
    assert r.status_code == 201, r.text
    pharmacist = auth("pharmacist-1", "pharmacist")
    found = (await fhir.get(f"/fhir/r4/AllergyIntolerance?patient={stay.patient_id}&code=7980",
                            headers=pharmacist)).json()
    assert [valid(e["resource"])["criticality"] for e in found["entry"]] == ["high"]


async def test_transaction_update_with_stale_version_writes_nothing(fhir, fhir_services, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    obs = (await fhir.post("/fhir/r4/Observation", json=observation(stay.patient_id), headers=h)).json()
    changed = {**obs, "status": "amended"}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": observation(stay.patient_id), "request": {"method": "POST", "url": "Observation"}},
        {"resource": changed, "request": {"method": "PUT", "url": f"Observation/{obs['id']}", "ifMatch": 'W/"9"'}}]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=h)
    assert r.status_code == 412, r.text
    assert _stored(fhir_services, stay.patient_id) == 1
    bundle["entry"][1]["request"]["ifMatch"] = 'W/"1"'
    r = await fhir.post("/fhir/r4", json=bundle, headers=h)
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["201 Created", "200 OK"]
    assert (await fhir.get(f"/fhir/r4/Observation/{obs['id']}", headers=h)).json()["status"] == "amended"


async def test_conditions_bad_tokens_and_erased_records(fhir, fhir_services, auth, admitted):
    stay = admitted()
    billing = auth("billing-1", "billing_clerk")
    r = await fhir.get(f"/fhir/r4/Condition?patient={stay.patient_id}&clinical-status=active", headers=billing)
    [entry] = valid(r.json())["entry"]
    assert entry["resource"]["code"]["text"] == "chest pain" and entry["resource"]["id"] == f"enc-{stay.encounter_id}"
    bad = await fhir.get(f"/fhir/r4/Patient/{stay.patient_id}", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401 and bad.json()["resourceType"] == "OperationOutcome"
    from datetime import UTC, datetime

    from activities.storage.erasure_repo import shred_patient
    with fhir_services.sessions() as s, s.begin():
        s.execute(sa.text("UPDATE hms.encounters SET status = 'finished' WHERE id = :e"), {"e": stay.encounter_id})
        assert shred_patient(s, stay.patient_id, f"erasure-{uuid.uuid4()}", datetime.now(UTC)) == []
    fhir_services.field_cipher.forget(stay.patient_id)
    gone = await fhir.get(f"/fhir/r4/Patient/{stay.patient_id}", headers=auth("registration-1", "registration_clerk"))
    assert gone.status_code == 410 and gone.json()["resourceType"] == "OperationOutcome"


async def test_a_result_twice_in_one_transaction_and_again_later_is_stored_once(fhir, fhir_services, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    same = observation(stay.patient_id, stay.encounter_id, identifier=f"ACC-{uuid.uuid4().hex}")
    other = observation(stay.patient_id, stay.encounter_id, code="718-7")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in (same, other, same)]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=h)
    assert r.status_code == 200, r.text
    entries = r.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created", "201 Created", "200 OK"]
    assert entries[0]["response"]["location"] == entries[2]["response"]["location"]
    again = await fhir.post("/fhir/r4", json={**bundle, "entry": bundle["entry"][:1]}, headers=h)
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"]
    assert _stored(fhir_services, stay.patient_id) == 2
    first_id = entries[0]["response"]["location"].split("/")[1]
    got = await fhir.get(f"/fhir/r4/Observation/{first_id}", headers=h)
    assert got.json()["identifier"] == same["identifier"] and got.json()["meta"]["versionId"] == "1"

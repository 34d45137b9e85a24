"""Consent update (a withdrawal through the consent withdrawal path) and AllergyIntolerance update
(a correction the order checks see): success, versions, refusals and authorization."""
from __future__ import annotations

import uuid

from tests.integration.fhir.conftest import FHIR, valid

JSON = {"Content-Type": FHIR}
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def consent(patient_id: str, purpose: str = "HRESCH", status: str = "active") -> dict:
    return {"resourceType": "Consent", "status": status,
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient_id}"},
            "provision": {"purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                       "code": purpose}]}}


def allergy(patient_id: str, code: str = "7980", criticality: str = "high") -> dict:
    return {"resourceType": "AllergyIntolerance", "patient": {"reference": f"Patient/{patient_id}"},
            "code": {"coding": [{"system": RXNORM, "code": code}]}, "criticality": criticality,
            "reaction": [{"manifestation": [{"text": "urticaria"}]}]}


async def test_consent_update_withdraws_like_the_withdrawal_api(fhir, auth, admitted):
    stay = admitted()
    clerk = {**auth("registration-1", "registration_clerk"), **JSON}
    created = valid((await fhir.post("/fhir/r4/Consent", json=consent(stay.patient_id), headers=clerk)).json())
    url = f"/fhir/r4/Consent/{created['id']}"
    stale = await fhir.put(url, json={**created, "status": "inactive"}, headers={**clerk, "If-Match": 'W/"0000"'})
    assert stale.status_code == 412 and stale.json()["resourceType"] == "OperationOutcome"
    r = await fhir.put(url, json={**created, "status": "inactive"},
                       headers={**clerk, "If-Match": f'W/"{created["meta"]["versionId"]}"'})
    assert r.status_code == 200, r.text
    updated = valid(r.json())
    assert updated["status"] == "inactive" and updated["id"] == created["id"]
    assert updated["meta"]["versionId"] != created["meta"]["versionId"]
    assert valid((await fhir.get(url, headers=clerk)).json())["status"] == "inactive"
    state = (await fhir.get(f"/api/v1/patients/{stay.patient_id}/consents", headers=clerk)).json()
    assert state["current"]["HRESCH"] == "withdrawn"
    assert [r["status"] for r in state["records"]] == ["withdrawn", "active"]  # appended, not rewritten
    again = await fhir.put(url, json={**created, "status": "inactive"}, headers=clerk)
    assert again.status_code == 200 and again.json()["status"] == "inactive"
    state = (await fhir.get(f"/api/v1/patients/{stay.patient_id}/consents", headers=clerk)).json()
    assert len(state["records"]) == 2  # a repeated withdrawal writes nothing
    back = await fhir.put(url, json={**created, "status": "active"}, headers=clerk)
    assert back.status_code == 422 and back.json()["resourceType"] == "OperationOutcome"


async def test_consent_update_refusals(fhir, auth, admitted):
    stay = admitted()
    clerk = {**auth("registration-1", "registration_clerk"), **JSON}
    created = valid((await fhir.post("/fhir/r4/Consent", json=consent(stay.patient_id), headers=clerk)).json())
    url = f"/fhir/r4/Consent/{created['id']}"
    withdrawn = {**created, "status": "inactive"}
    nurse = await fhir.put(url, json=withdrawn, headers={**auth("nurse-medical-1", "nurse"), **JSON})
    assert nurse.status_code == 403 and nurse.json()["resourceType"] == "OperationOutcome"
    other_purpose = {**withdrawn, "provision": consent(stay.patient_id, "HMARKT")["provision"]}
    assert (await fhir.put(url, json=other_purpose, headers=clerk)).status_code == 422
    assert (await fhir.put(url, json={**withdrawn, "status": "bogus"}, headers=clerk)).status_code == 422
    assert (await fhir.put(url, json={**withdrawn, "id": "other"}, headers=clerk)).status_code == 400
    missing = f"/fhir/r4/Consent/{uuid.uuid4()}"
    assert (await fhir.put(missing, json={**withdrawn, "id": missing.rsplit("/", 1)[1]}, headers=clerk)
            ).status_code == 404
    newer = valid((await fhir.post("/fhir/r4/Consent", json=consent(stay.patient_id), headers=clerk)).json())
    superseded = await fhir.put(url, json=withdrawn, headers=clerk)
    assert superseded.status_code == 409 and newer["status"] == "active"
    assert (await fhir.put(url, json=created, headers=clerk)).status_code == 200  # no change asked: nothing done
    assert (await fhir.post(f"/api/v1/patients/{stay.patient_id}/consents/HRESCH/withdraw", headers=clerk)
            ).status_code == 200
    gone = await fhir.put(f"/fhir/r4/Consent/{newer['id']}", json={**newer, "status": "inactive"}, headers=clerk)
    assert gone.status_code == 409  # already withdrawn through the task API


async def test_allergy_update_corrects_the_record_the_order_checks_read(fhir, auth, admitted):
    stay = admitted()
    doctor = {**auth("attending-1", "attending_physician"), **JSON}
    pharmacist = {**auth("pharmacist-1", "pharmacist"), **JSON}
    created = valid((await fhir.post("/fhir/r4/AllergyIntolerance", json=allergy(stay.patient_id),
                                     headers=doctor)).json())
    url = f"/fhir/r4/AllergyIntolerance/{created['id']}"
    changed = {**created, "criticality": "low", "clinicalStatus": {"coding": [{"system": CLINICAL,
                                                                               "code": "resolved"}]},
               "reaction": [{"manifestation": [{"text": "rash"}]}]}
    r = await fhir.put(url, json=changed, headers={**pharmacist, "If-Match": f'W/"{created["meta"]["versionId"]}"'})
    assert r.status_code == 200, r.text
    updated = valid(r.json())
    assert updated["criticality"] == "low" and updated["clinicalStatus"]["coding"][0]["code"] == "inactive"
    assert updated["reaction"][0]["manifestation"][0]["text"] == "rash"
    assert updated["meta"]["versionId"] != created["meta"]["versionId"]
    active = (await fhir.get(f"/fhir/r4/AllergyIntolerance?patient={stay.patient_id}&clinical-status=active",
                             headers=pharmacist)).json()
    assert active.get("entry", []) == []
    stale = await fhir.put(url, json=changed, headers={**pharmacist, "If-Match": f'W/"{created["meta"]["versionId"]}"'})
    assert stale.status_code == 412


async def test_allergy_update_refusals(fhir, auth, admitted):
    stay, other = admitted(), admitted()
    doctor = {**auth("attending-1", "attending_physician"), **JSON}
    created = valid((await fhir.post("/fhir/r4/AllergyIntolerance", json=allergy(stay.patient_id),
                                     headers=doctor)).json())
    url = f"/fhir/r4/AllergyIntolerance/{created['id']}"
    for user, role in (("billing-1", "billing_clerk"), ("radiologist-1", "radiologist"),
                       ("attending-2", "attending_physician")):
        r = await fhir.put(url, json=created, headers={**auth(user, role), **JSON})
        assert r.status_code == 403, (role, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
    moved = {**created, "patient": {"reference": f"Patient/{other.patient_id}"}}
    assert (await fhir.put(url, json=moved, headers=doctor)).status_code == 422
    bad_code = {**created, "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}]}}
    assert (await fhir.put(url, json=bad_code, headers=doctor)).status_code == 422
    assert (await fhir.put(url, json={**created, "criticality": "severe"}, headers=doctor)).status_code == 422
    wrong_status = {**created, "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "maybe"}]}}
    assert (await fhir.put(url, json=wrong_status, headers=doctor)).status_code == 422
    assert (await fhir.put(url, json={"resourceType": "Patient", "id": created["id"]}, headers=doctor)
            ).status_code == 400
    missing = str(uuid.uuid4())
    assert (await fhir.put(f"/fhir/r4/AllergyIntolerance/{missing}", json={**created, "id": missing},
                           headers=doctor)).status_code == 404
    assert valid((await fhir.get(url, headers=doctor)).json()) == created  # nothing refused was written

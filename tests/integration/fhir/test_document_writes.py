"""DocumentReference create: a clinical note written over FHIR is the note the task API stores (same
table, same encryption), keeps its sensitivity labels for the note policy, and only an attending on
the patient's care team may write it."""
from __future__ import annotations

import base64
import uuid

from activities.storage import security_repo
from tests.integration.fhir.conftest import FHIR, valid

JSON = {"Content-Type": FHIR}
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def document(patient_id: str, text: str = "Reports low mood; plan reviewed.", *, labels: tuple[str, ...] = (),
             identifier: str | None = None, encounter_id: str | None = None) -> dict:
    doc: dict = {
        "resourceType": "DocumentReference", "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                    "data": base64.b64encode(text.encode()).decode()}}],
    }
    if labels:
        doc["meta"] = {"security": [{"system": ACT, "code": code} for code in labels]}
    if identifier:
        doc["identifier"] = [{"system": "urn:hms:test-doc", "value": identifier}]
    if encounter_id:
        doc["context"] = {"encounter": [{"reference": f"Encounter/{encounter_id}"}]}
    return doc


async def test_a_labelled_note_is_stored_like_the_task_apis_and_the_note_policy_applies(fhir, fhir_services, auth,
                                                                                      admitted):
    stay = admitted(ward="psychiatry")
    doctor = auth("attending-1", "attending_physician")
    r = await fhir.post("/fhir/r4/DocumentReference", json=document(stay.patient_id, labels=("PSY",)),
                        headers={**doctor, **JSON})
    assert r.status_code == 201, r.text
    created = valid(r.json())
    assert [s["code"] for s in created["meta"]["security"]] == ["PSY"]
    assert r.headers["location"].endswith(f"/DocumentReference/{created['id']}/_history/{created['meta']['versionId']}")
    assert created["context"]["encounter"] == [{"reference": f"Encounter/{stay.encounter_id}"}]
    with fhir_services.sessions() as s:
        note = security_repo.get_note(s, created["id"])
        assert note is not None and note.security == ["PSY"] and note.author_id == "attending-1"
        assert b"low mood" not in note.text  # encrypted at rest
    task_api = await fhir.get(f"/api/v1/notes/{created['id']}", headers=doctor)
    assert task_api.status_code == 200 and task_api.json()["text"] == "Reports low mood; plan reviewed."
    assert (await fhir.get(f"/api/v1/notes/{created['id']}", headers=auth("billing-1", "billing_clerk"))
            ).status_code == 403
    read = await fhir.get(f"/fhir/r4/DocumentReference/{created['id']}", headers=auth("billing-1", "billing_clerk"))
    assert read.status_code == 403 and read.json()["resourceType"] == "OperationOutcome"
    other = await fhir.get(f"/fhir/r4/DocumentReference/{created['id']}", headers=auth("attending-2",
                                                                                     "attending_physician"))
    assert other.status_code == 403
    got = valid((await fhir.get(f"/fhir/r4/DocumentReference/{created['id']}", headers=doctor)).json())
    assert got == created


async def test_only_an_attending_on_the_care_team_writes_notes(fhir, auth, admitted):
    stay = admitted()
    body = document(stay.patient_id)
    for user, role in (("nurse-medical-1", "nurse"), ("billing-1", "billing_clerk"), ("pharmacist-1", "pharmacist"),
                       ("attending-2", "attending_physician"), ("registration-1", "registration_clerk")):
        r = await fhir.post("/fhir/r4/DocumentReference", json=body, headers={**auth(user, role), **JSON})
        assert r.status_code == 403, (role, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
    found = (await fhir.get(f"/fhir/r4/DocumentReference?patient={stay.patient_id}",
                            headers=auth("attending-1", "attending_physician"))).json()
    assert found.get("entry", []) == []


async def test_a_resent_note_with_its_identifier_is_stored_once(fhir, auth, admitted):
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    body = document(stay.patient_id, identifier=f"DOC-{uuid.uuid4().hex}", encounter_id=stay.encounter_id)
    first = await fhir.post("/fhir/r4/DocumentReference", json=body, headers=h)
    again = await fhir.post("/fhir/r4/DocumentReference", json=body, headers=h)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert first.json()["id"] == again.json()["id"]
    found = (await fhir.get(f"/fhir/r4/DocumentReference?patient={stay.patient_id}", headers=h)).json()
    assert len(found["entry"]) == 1
    elsewhere = admitted()
    moved = document(elsewhere.patient_id, identifier=body["identifier"][0]["value"])
    assert (await fhir.post("/fhir/r4/DocumentReference", json=moved, headers=h)).status_code == 409


async def test_invalid_notes_are_refused_with_an_operation_outcome(fhir, auth, admitted):
    stay, other = admitted(), admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    good = document(stay.patient_id)
    bad_cases = {
        422: [
            document(stay.patient_id, labels=("R",)),  # a label the note store cannot keep
            {**good, "content": [{"attachment": {"contentType": "text/plain", "data": "***"}}]},
            {**good, "content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0="}}]},
            document(stay.patient_id, "   "),
            {**good, "status": "superseded"},
            {**good, "status": "not-a-status"},  # invalid R4
            document(stay.patient_id, encounter_id=other.encounter_id),  # another patient's stay
        ],
        400: [{**good, "resourceType": "Observation"}, [good]],
        403: [{**good, "subject": {"reference": f"Patient/{uuid.uuid4()}"}}],  # decided before anything is looked up
    }
    for status, bodies in bad_cases.items():
        for body in bodies:
            r = await fhir.post("/fhir/r4/DocumentReference", json=body, headers=h)
            assert r.status_code == status, (body, r.text)
            assert r.json()["resourceType"] == "OperationOutcome"
    unknown = str(uuid.uuid4())  # updates: test_imaging_document_writes
    assert (await fhir.put(f"/fhir/r4/DocumentReference/{unknown}", json={**good, "id": unknown}, headers=h)
            ).status_code == 404


async def test_capability_statement_lists_the_new_writes(fhir):
    cap = valid((await fhir.get("/fhir/r4/metadata")).json())
    by_type = {res["type"]: {i["code"] for i in res["interaction"]} for res in cap["rest"][0]["resource"]}
    assert by_type["DocumentReference"] == {"read", "search-type", "create", "update"}
    assert by_type["AllergyIntolerance"] == {"read", "search-type", "create", "update"}
    assert by_type["Consent"] == {"read", "search-type", "create", "update"}

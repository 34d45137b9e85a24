"""ChargeItem create: a billable event priced from the tariff through the billing store, once per
identifier (the idempotency key), written only by billing clerks."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from activities.storage import billing_repo
from activities.storage.models_billing import ChargeItem
from tests.integration.fhir.conftest import FHIR, valid

JSON = {"Content-Type": FHIR}
TARIFF = "urn:hms:tariff"


def charge(patient_id: str, encounter_id: str, *, code: str = "IMG-XR", quantity: int = 2,
           identifier: str | None = None, **extra: object) -> dict:
    return {"resourceType": "ChargeItem", "status": "billable",
            "identifier": [{"system": "urn:ris:accession", "value": identifier or f"ACC-{uuid.uuid4().hex}"}],
            "code": {"coding": [{"system": TARIFF, "code": code}]},
            "subject": {"reference": f"Patient/{patient_id}"}, "context": {"reference": f"Encounter/{encounter_id}"},
            "quantity": {"value": quantity}, "occurrenceDateTime": "2026-11-20T10:00:00Z", **extra}


async def test_a_charge_is_priced_stored_once_and_billed_with_the_stay(fhir, fhir_services, auth, admitted):
    stay = admitted()
    clerk = {**auth("billing-1", "billing_clerk"), **JSON}
    body = charge(stay.patient_id, stay.encounter_id)
    first = await fhir.post("/fhir/r4/ChargeItem", json=body, headers=clerk)
    assert first.status_code == 201, first.text
    created = valid(first.json())
    assert created["priceOverride"] == {"value": 900.0, "currency": "INR"} and created["status"] == "billable"
    assert first.headers["location"].endswith(f"/ChargeItem/{created['id']}/_history/{created['meta']['versionId']}")
    again = await fhir.post("/fhir/r4/ChargeItem", json={**body, "priceOverride": created["priceOverride"]},
                            headers=clerk)
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    with fhir_services.sessions() as s:
        rows = billing_repo.charges_of(s, stay.encounter_id)
    assert [(c.id, c.code, c.quantity, str(c.amount), c.source) for c in rows] == [
        (created["id"], "IMG-XR", 2, "900.00", "fhir")]
    accession = body["identifier"][0]["value"]  # kept only sealed: the key and source id are a blind index
    assert accession not in rows[0].idempotency_key and accession not in rows[0].source_id
    assert rows[0].idempotency_key == f"fhir|{rows[0].source_id}"
    listed = await fhir.get(f"/api/v1/encounters/{stay.encounter_id}/charges", headers=clerk)
    assert listed.status_code == 200 and listed.json()["total"] == "900.00"
    other = admitted()
    moved = charge(other.patient_id, other.encounter_id, identifier=body["identifier"][0]["value"])
    conflict = await fhir.post("/fhir/r4/ChargeItem", json=moved, headers=clerk)
    assert conflict.status_code == 409 and conflict.json()["resourceType"] == "OperationOutcome"


async def test_only_billing_clerks_post_charges(fhir, fhir_services, auth, admitted):
    stay = admitted()
    body = charge(stay.patient_id, stay.encounter_id)
    for user, role in (("attending-1", "attending_physician"), ("nurse-medical-1", "nurse"),
                       ("registration-1", "registration_clerk"), ("manager-1", "manager")):
        r = await fhir.post("/fhir/r4/ChargeItem", json=body, headers={**auth(user, role), **JSON})
        assert r.status_code == 403, (role, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
    with fhir_services.sessions() as s:
        assert billing_repo.charges_of(s, stay.encounter_id) == []


async def test_invalid_charges_are_refused(fhir, fhir_services, auth, admitted):
    stay, other = admitted(), admitted()
    clerk = {**auth("billing-1", "billing_clerk"), **JSON}
    pid, eid = stay.patient_id, stay.encounter_id
    no_identifier = charge(pid, eid)
    del no_identifier["identifier"]
    for body in (charge(pid, eid, code="NOPE"), charge(pid, eid, quantity=0), charge(pid, eid, status="billed"),
                 charge(pid, other.encounter_id), no_identifier, {**charge(pid, eid), "context": None},
                 charge(pid, eid, priceOverride={"value": 1.0, "currency": "INR"}),
                 charge(pid, eid, occurrenceDateTime="yesterday")):
        body = {k: v for k, v in body.items() if v is not None}
        r = await fhir.post("/fhir/r4/ChargeItem", json=body, headers=clerk)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
    assert (await fhir.post("/fhir/r4/ChargeItem", json=[charge(pid, eid)], headers=clerk)).status_code == 400
    with fhir_services.sessions() as s:
        count = s.scalar(sa.select(sa.func.count()).select_from(ChargeItem)
                         .where(ChargeItem.patient_id == pid))
    assert count == 0
    cap = valid((await fhir.get("/fhir/r4/metadata")).json())
    by_type = {res["type"]: {i["code"] for i in res["interaction"]} for res in cap["rest"][0]["resource"]}
    assert by_type["ChargeItem"] == {"read", "search-type", "create", "update"}  # update: a reversal only
    missing = str(uuid.uuid4())
    assert (await fhir.put(f"/fhir/r4/ChargeItem/{missing}", json={**charge(pid, eid), "id": missing},
                           headers=clerk)).status_code == 404

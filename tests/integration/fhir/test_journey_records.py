"""Records the journeys own, served read-only as FHIR: notes (DocumentReference), medication orders,
imaging orders (assigned radiologist), charges — each validated as R4 and decided by the policy."""
from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from activities.storage import pharmacy_text, security_repo
from activities.storage.models_billing import ChargeItem
from activities.storage.models_imaging import ImagingOrder
from activities.storage.models_pharmacy import MedicationOrder
from tests.integration.fhir.conftest import FHIR, valid


def _seed(services, stay) -> dict[str, str]:
    ids = {k: str(uuid.uuid4()) for k in ("note", "psy", "med", "img", "charge")}
    now = datetime.now(UTC)
    with services.sessions() as s, s.begin():
        security_repo.add_note(s, services.field_cipher, note_id=ids["note"], patient_id=stay.patient_id,
                               encounter_id=stay.encounter_id, author_id="attending-1", text="stable", security=[])
        security_repo.add_note(s, services.field_cipher, note_id=ids["psy"], patient_id=stay.patient_id,
                               encounter_id=None, author_id="attending-1", text="low mood", security=["PSY"])
        s.add(MedicationOrder(id=ids["med"], patient_id=stay.patient_id, encounter_id=stay.encounter_id,
                              journey_id=f"journey-{stay.encounter_id}", workflow_id="wf", drug_code="RX1",
                              dose=500.0, unit="mg", route="PO", frequency_hours=8, doses=9, status="active",
                              hits=pharmacy_text.seal_order(s, services.field_cipher, ids["med"], stay.patient_id,
                                                            {"hits": []})["hits"], ordered_by="attending-1"))
        s.add(ImagingOrder(id=ids["img"], patient_id=stay.patient_id, encounter_id=stay.encounter_id,
                           journey_id=f"journey-{stay.encounter_id}", workflow_id="wf", modality="CR",
                           body_site="chest", priority="urgent", reason_code="R07.4", requested_by="attending-1",
                           assigned_to="radiologist-1", status="active"))
        s.add(ChargeItem(id=ids["charge"], idempotency_key=ids["charge"], encounter_id=stay.encounter_id,
                         patient_id=stay.patient_id, journey_id=f"journey-{stay.encounter_id}", code="BED-DAY",
                         description="Bed day", quantity=2, unit_price=Decimal("100.00"), amount=Decimal("200.00"),
                         currency="INR", source="admission", source_id="x", occurred_at=now))
    return ids


async def test_read_only_records(fhir, fhir_services, auth, admitted):
    stay = admitted()
    ids = _seed(fhir_services, stay)
    doctor, billing = auth("attending-1", "attending_physician"), auth("billing-1", "billing_clerk")
    note = await fhir.get(f"/fhir/r4/DocumentReference/{ids['note']}", headers=doctor)
    assert note.status_code == 200, note.text
    assert base64.b64decode(valid(note.json())["content"][0]["attachment"]["data"]) == b"stable"
    assert (await fhir.get(f"/fhir/r4/DocumentReference/{ids['note']}", headers=billing)).status_code == 403
    notes = (await fhir.get(f"/fhir/r4/DocumentReference?patient={stay.patient_id}", headers=doctor)).json()
    assert {e["resource"]["id"] for e in notes["entry"]} == {ids["note"], ids["psy"]}
    nurse_notes = (await fhir.get(f"/fhir/r4/DocumentReference?patient={stay.patient_id}",
                                  headers=auth("nurse-medical-1", "nurse"))).json()
    assert {e["resource"]["id"] for e in nurse_notes["entry"]} == {ids["note"], ids["psy"]}  # on the care team
    meds = (await fhir.get(f"/fhir/r4/MedicationRequest?patient={stay.patient_id}&status=active",
                           headers=auth("pharmacist-1", "pharmacist"))).json()
    assert [valid(e["resource"])["id"] for e in meds["entry"]] == [ids["med"]]
    order = await fhir.get(f"/fhir/r4/ServiceRequest/{ids['img']}", headers=auth("radiologist-1", "radiologist"))
    assert order.status_code == 200 and valid(order.json())["code"]["coding"][0]["code"] == "CR"
    other = await fhir.get(f"/fhir/r4/ServiceRequest/{ids['img']}", headers=auth("radiologist-2", "radiologist"))
    assert other.status_code == 403
    charge = await fhir.get(f"/fhir/r4/ChargeItem?encounter={stay.encounter_id}", headers=billing)
    assert [valid(e["resource"])["id"] for e in charge.json()["entry"]] == [ids["charge"]]
    r = await fhir.post("/fhir/r4/MedicationAdministration", json={"resourceType": "MedicationAdministration"},
                        headers={**doctor, "Content-Type": FHIR})
    assert r.status_code == 422  # a dose recorded over FHIR (test_medication_writes): this body is not valid R4
    for write in ("ImagingStudy", "DiagnosticReport"):  # Invoice, Claim: test_billing_writes
        r = await fhir.post(f"/fhir/r4/{write}", json={"resourceType": write},
                            headers={**doctor, "Content-Type": FHIR})
        assert r.status_code == 422  # written through the imaging journey (test_imaging_document_writes): not R4
    everything = (await fhir.get(f"/fhir/r4/Patient/{stay.patient_id}/$everything", headers=billing)).json()
    types = {e["resource"]["resourceType"] for e in everything["entry"]}
    assert {"Patient", "Encounter", "ChargeItem"} <= types
    assert not types & {"DocumentReference", "MedicationRequest", "Observation"}
    for e in everything["entry"]:
        valid(e["resource"])

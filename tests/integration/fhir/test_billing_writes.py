"""Invoice and Claim create/update and ChargeItem reversal over FHIR, on the real store and policy: invoices are
computed from the charges (a charge on at most one invoice), claims from invoices, only statuses change, and
only billing clerks write them. (Settlement through the billing journey's task: billing/test_late_charges.)"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from activities.storage import repository as repo
from tests.integration.fhir.conftest import FHIR, valid
from tests.integration.fhir.test_charge_writes import charge

JSON = {"Content-Type": FHIR}
ENCOUNTER = "urn:hms:encounter"


def finish(services, encounter_id: str) -> None:
    with services.sessions() as s, s.begin():
        repo.set_encounter_status(s, encounter_id, "finished", datetime.now(UTC))


def invoice_body(patient_id: str, charge_ids: list[str] = (), encounter_id: str | None = None, **extra) -> dict:
    body = {"resourceType": "Invoice", "status": "issued", "subject": {"reference": f"Patient/{patient_id}"},
            "lineItem": [{"chargeItemReference": {"reference": f"ChargeItem/{c}"}} for c in charge_ids], **extra}
    if encounter_id:
        body["identifier"] = [{"system": ENCOUNTER, "value": encounter_id}]
    return {k: v for k, v in body.items() if v != []}


def claim_body(patient_id: str, invoice_id: str) -> dict:
    return {"resourceType": "Claim", "status": "active", "use": "claim",
            "identifier": [{"system": "urn:hms:invoice", "value": invoice_id}],
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                                 "code": "institutional"}]},
            "patient": {"reference": f"Patient/{patient_id}"}, "created": "2026-11-20T10:00:00Z",
            "provider": {"reference": "Organization/hms-hospital"},
            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                     "code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True,
                           "coverage": {"identifier": {"system": "urn:hms:payer", "value": "acme-health"}}}]}


async def post_charges(fhir, headers, stay, *specs: tuple[str, int]) -> list[dict]:
    out = []
    for code, quantity in specs:
        r = await fhir.post("/fhir/r4/ChargeItem", json=charge(stay.patient_id, stay.encounter_id, code=code,
                                                                  quantity=quantity), headers=headers)
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


async def put_status(fhir, headers, rtype: str, rid: str, status: str, **changes) -> object:
    current = (await fhir.get(f"/fhir/r4/{rtype}/{rid}", headers=headers)).json()
    return await fhir.put(f"/fhir/r4/{rtype}/{rid}", json={**current, "status": status, **changes}, headers=headers)


def money(resource: dict, element: str) -> Decimal:
    return Decimal(str(resource[element]["value"]))


@pytest.fixture
def clerk(auth) -> dict[str, str]:
    return {**auth("billing-1", "billing_clerk"), **JSON}


async def test_invoice_create_bills_named_or_remaining_charges_once(fhir, fhir_services, clerk, admitted):
    stay, other = admitted(), admitted()
    xr, rx, mr = await post_charges(fhir, clerk, stay, ("IMG-XR", 2), ("RX-DISPENSE", 3), ("IMG-XR", 1))
    early = await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, [xr["id"]]), headers=clerk)
    assert early.status_code == 409 and "finished" in early.json()["issue"][0]["diagnostics"]
    finish(fhir_services, stay.encounter_id)

    wrong = invoice_body(stay.patient_id, [xr["id"]], totalGross={"value": 1.0, "currency": "INR"},
                         totalNet={"value": 900.0, "currency": "INR"})
    r = await fhir.post("/fhir/r4/Invoice", json=wrong, headers=clerk)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Invoice.totalGross"]
    named = invoice_body(stay.patient_id, [xr["id"]], totalGross={"value": 900.0, "currency": "INR"})
    first = await fhir.post("/fhir/r4/Invoice", json=named, headers=clerk)
    assert first.status_code == 201, first.text
    invoice = valid(first.json())
    assert money(invoice, "totalGross") == money(invoice, "totalNet") == Decimal("900.00")
    assert [li["chargeItemReference"]["reference"] for li in invoice["lineItem"]] == [f"ChargeItem/{xr['id']}"]
    assert invoice["type"]["coding"][0]["code"] == "supplementary" and invoice["status"] == "issued"
    again = await fhir.post("/fhir/r4/Invoice", json=named, headers=clerk)
    assert again.status_code == 200 and again.json()["id"] == invoice["id"]
    assert (await fhir.get(f"/fhir/r4/ChargeItem/{xr['id']}", headers=clerk)).json()["status"] == "billed"
    billed = await fhir.post("/fhir/r4/Invoice", json=invoice_body(
        stay.patient_id, [xr["id"], rx["id"]], identifier=[{"system": "urn:pas:invoice", "value": "X1"}]),
        headers=clerk)
    assert billed.status_code == 409 and xr["id"] in billed.json()["issue"][0]["diagnostics"]
    foreign = await fhir.post("/fhir/r4/Invoice", json=invoice_body(
        other.patient_id, [rx["id"]]), headers=clerk)
    assert foreign.status_code == 422

    rest = await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, encounter_id=stay.encounter_id),
                           headers=clerk)
    assert rest.status_code == 201, rest.text
    assert {li["chargeItemReference"]["reference"] for li in rest.json()["lineItem"]} == {
        f"ChargeItem/{rx['id']}", f"ChargeItem/{mr['id']}"}
    nothing = await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, encounter_id=stay.encounter_id),
                              headers=clerk)
    assert nothing.status_code == 409
    with fhir_services.sessions() as s:
        charged, invoiced = s.execute(sa.text(
            "SELECT (SELECT sum(amount) FROM hms.charge_items WHERE encounter_id = :e), "
            "(SELECT sum(total) FROM hms.invoices WHERE encounter_id = :e)"), {"e": stay.encounter_id}).one()
    assert charged == invoiced == Decimal("900.00") + Decimal("106.50") + Decimal("450.00")


async def test_claims_follow_invoices_and_only_statuses_change(fhir, fhir_services, clerk, admitted):
    stay = admitted()
    [xr] = await post_charges(fhir, clerk, stay, ("IMG-XR", 2))
    finish(fhir_services, stay.encounter_id)
    invoice = (await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, [xr["id"]]),
                               headers=clerk)).json()
    body = claim_body(stay.patient_id, invoice["id"])
    for bad, element in (({**body, "total": {"value": 1.0, "currency": "INR"}}, "Claim.total"),
                         ({**body, "insurance": [{"sequence": 1, "focal": True,
                                                  "coverage": {"reference": "Coverage/x"}}]},
                          "Claim.insurance.coverage"),
                         ({**body, "identifier": []}, "Claim.identifier")):
        r = await fhir.post("/fhir/r4/Claim", json={k: v for k, v in bad.items() if v != []}, headers=clerk)
        assert r.status_code == 422 and r.json()["issue"][0]["expression"] == [element], r.text
    unknown = await fhir.post("/fhir/r4/Claim", json=claim_body(stay.patient_id, "invoice-nope"), headers=clerk)
    assert unknown.status_code == 409
    first = await fhir.post("/fhir/r4/Claim", json=body, headers=clerk)
    assert first.status_code == 201, first.text
    claim = valid(first.json())
    assert money(claim, "total") == Decimal("900.00") and claim["status"] == "active"
    assert (await fhir.post("/fhir/r4/Claim", json=body, headers=clerk)).status_code == 409

    changed = await put_status(fhir, clerk, "Claim", claim["id"], "active", priority={"coding": [{"code": "stat"}]})
    assert changed.status_code == 422 and changed.json()["issue"][0]["expression"] == ["Claim.priority"]
    withdrawn = await put_status(fhir, clerk, "Claim", claim["id"], "cancelled")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "cancelled", withdrawn.text
    assert (await put_status(fhir, clerk, "Claim", claim["id"], "cancelled")).status_code == 409
    second = await fhir.post("/fhir/r4/Claim", json=body, headers=clerk)
    assert second.status_code == 201

    redated = await put_status(fhir, clerk, "Invoice", invoice["id"], "balanced", date="2020-01-01T00:00:00Z")
    assert redated.status_code == 422 and redated.json()["issue"][0]["expression"] == ["Invoice.date"]
    assert (await put_status(fhir, clerk, "Invoice", invoice["id"], "draft")).status_code == 422
    paid = await put_status(fhir, clerk, "Invoice", invoice["id"], "balanced")
    assert paid.status_code == 200 and paid.json()["status"] == "balanced", paid.text
    assert (await put_status(fhir, clerk, "Invoice", invoice["id"], "cancelled")).status_code == 409
    adjudicated = await put_status(fhir, clerk, "Claim", second.json()["id"], "cancelled")
    assert adjudicated.status_code == 409 and "adjudicated" in adjudicated.json()["issue"][0]["diagnostics"]
    with fhir_services.sessions() as s:
        assert s.execute(sa.text("SELECT outcome, paid_amount FROM hms.claims WHERE id = :c"),
                         {"c": second.json()["id"]}).one() == ("paid", Decimal("900.00"))


async def test_a_charge_entered_in_error_is_kept_and_never_invoiced(fhir, fhir_services, clerk, admitted, db_engine):
    stay = admitted()
    wrong, right = await post_charges(fhir, clerk, stay, ("IMG-XR", 2), ("RX-DISPENSE", 3))
    reversed_ = await put_status(fhir, clerk, "ChargeItem", wrong["id"], "entered-in-error")
    assert reversed_.status_code == 200 and valid(reversed_.json())["status"] == "entered-in-error", reversed_.text
    assert (await put_status(fhir, clerk, "ChargeItem", wrong["id"], "entered-in-error")).status_code == 200
    assert (await put_status(fhir, clerk, "ChargeItem", wrong["id"], "billable")).status_code == 409
    requantified = await put_status(fhir, clerk, "ChargeItem", right["id"], "billable", quantity={"value": 9})
    assert requantified.status_code == 422 and requantified.json()["issue"][0]["expression"] == [
        "ChargeItem.quantity"]
    listed = (await fhir.get(f"/api/v1/encounters/{stay.encounter_id}/charges", headers=clerk)).json()
    assert listed["total"] == "106.50" and [c["id"] for c in listed["charges"]] == [right["id"]]

    finish(fhir_services, stay.encounter_id)
    invoice = await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, encounter_id=stay.encounter_id),
                              headers=clerk)
    assert invoice.status_code == 201 and money(invoice.json(), "totalNet") == Decimal("106.50")
    assert (await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, [wrong["id"]]),
                            headers=clerk)).status_code == 409
    billed = await put_status(fhir, clerk, "ChargeItem", right["id"], "entered-in-error")
    assert billed.status_code == 409 and "billed" in billed.json()["issue"][0]["diagnostics"]
    with pytest.raises(sa.exc.IntegrityError), db_engine.begin() as c:  # the database refuses to bill it
        c.execute(sa.text("UPDATE hms.charge_items SET invoice_id = :i WHERE id = :c"),
                  {"i": invoice.json()["id"], "c": wrong["id"]})


async def test_only_billing_clerks_write_bills_and_the_statement_says_so(fhir, fhir_services, auth, clerk, admitted):
    stay = admitted()
    [xr] = await post_charges(fhir, clerk, stay, ("IMG-XR", 1))
    finish(fhir_services, stay.encounter_id)
    for user, role in (("attending-1", "attending_physician"), ("nurse-medical-1", "nurse"),
                       ("registration-1", "registration_clerk"), ("manager-1", "manager")):
        h = {**auth(user, role), **JSON}
        r = await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, [xr["id"]]), headers=h)
        assert r.status_code == 403, (role, r.text)
        r = await fhir.put(f"/fhir/r4/ChargeItem/{xr['id']}", json={**xr, "status": "entered-in-error"}, headers=h)
        assert r.status_code == 403, (role, r.text)
    invoice = (await fhir.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, [xr["id"]]),
                               headers=clerk)).json()
    doctor = {**auth("attending-1", "attending_physician"), **JSON}
    assert (await fhir.post("/fhir/r4/Claim", json=claim_body(stay.patient_id, invoice["id"]),
                            headers=doctor)).status_code == 403
    assert (await fhir.put(f"/fhir/r4/Invoice/{invoice['id']}", json={**invoice, "status": "balanced"},
                           headers=doctor)).status_code == 403
    cap = valid((await fhir.get("/fhir/r4/metadata")).json())
    by_type = {res["type"]: {i["code"] for i in res["interaction"]} for res in cap["rest"][0]["resource"]}
    assert by_type["Invoice"] == by_type["Claim"] == {"read", "search-type", "create", "update"}


async def test_invoice_create_joins_transactions_and_settlement_stays_out(fhir, fhir_services, clerk, admitted):
    stay = admitted()
    finish(fhir_services, stay.encounter_id)
    ref = f"urn:uuid:{uuid.uuid4()}"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": ref, "resource": charge(stay.patient_id, stay.encounter_id),
         "request": {"method": "POST", "url": "ChargeItem"}},
        {"resource": {**invoice_body(stay.patient_id), "lineItem": [{"chargeItemReference": {"reference": ref}}]},
         "request": {"method": "POST", "url": "Invoice"}}]}
    r = await fhir.post("/fhir/r4", json=bundle, headers=clerk)
    assert r.status_code == 200, r.text
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["201 Created", "201 Created"]
    invoice_id = r.json()["entry"][1]["response"]["location"].split("/")[1]
    invoice = (await fhir.get(f"/fhir/r4/Invoice/{invoice_id}", headers=clerk)).json()
    settle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {**invoice, "status": "balanced"}, "request": {"method": "PUT", "url": f"Invoice/{invoice_id}"}}]}
    refused = await fhir.post("/fhir/r4", json=settle, headers=clerk)
    assert refused.status_code == 400 and "transaction" in refused.json()["issue"][0]["diagnostics"]
    batch = await fhir.post("/fhir/r4", json={**settle, "type": "batch"}, headers=clerk)
    assert batch.status_code == 200 and batch.json()["entry"][0]["response"]["status"] == "200 OK", batch.text
    assert (await fhir.get(f"/fhir/r4/Invoice/{invoice_id}", headers=clerk)).json()["status"] == "balanced"


def test_fuzz_billing_writes_never_fail_the_server(fhir_services, auth, admitted):
    """Valid bodies with one element replaced, posted and put by a billing clerk: a resource or an
    OperationOutcome, never a 5xx (the checks past the model's are exercised)."""
    from hypothesis import given
    from hypothesis import strategies as st

    from tests.integration.fhir.test_fuzz import FUZZ, _client, _ok, json_values

    stay = admitted()
    client, h = _client(fhir_services), {**auth("billing-1", "billing_clerk"), **JSON}
    xr = client.post("/fhir/r4/ChargeItem", json=charge(stay.patient_id, stay.encounter_id), headers=h).json()
    finish(fhir_services, stay.encounter_id)
    invoice = client.post("/fhir/r4/Invoice", json=invoice_body(stay.patient_id, [xr["id"]]), headers=h).json()
    claim = client.post("/fhir/r4/Claim", json=claim_body(stay.patient_id, invoice["id"]), headers=h).json()
    bases = {"Invoice": invoice, "Claim": claim, "ChargeItem": xr}
    elements = ["status", "lineItem", "identifier", "totalGross", "totalNet", "subject", "patient", "insurance",
                "total", "item", "quantity", "priceOverride", "use", "totalPriceComponent", "date"]

    @FUZZ
    @given(rtype=st.sampled_from(sorted(bases)), element=st.sampled_from(elements), value=json_values)
    def run(rtype, element, value):
        body = {**bases[rtype], element: value}
        _ok(client.post(f"/fhir/r4/{rtype}", json={k: v for k, v in body.items() if k != "id"}, headers=h))
        _ok(client.put(f"/fhir/r4/{rtype}/{bases[rtype]['id']}", json=body, headers=h))

    run()

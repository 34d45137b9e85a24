"""Invoice, Claim and discharge Composition: valid FHIR R4 (fhir.resources R4B), exact totals, no free text."""
from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.invoice import Invoice

from activities.billing_fhir import ChargeLine, build_claim, build_invoice, money_value, total_of
from activities.billing_tariff import load_tariff
from activities.discharge_fhir import active_medication_orders, build_composition, pending_results
from workflows.stages import StageStatus

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def lines(n: int, seed: int = 7) -> list[ChargeLine]:
    rng = random.Random(seed)
    tariff = load_tariff()
    out = []
    for i in range(n):
        item = tariff.item(rng.choice(sorted(tariff.items)))
        qty = rng.randint(1, 9)
        out.append(ChargeLine(f"charge-{i}", item.code, item.description, qty, item.unit_price,
                              tariff.price(item.code, qty), "INR"))
    return out


def test_invoice_validates_and_its_totals_are_the_exact_sum_of_its_lines() -> None:
    charges = lines(40)
    doc = build_invoice("invoice-e1", "p1", "e1", AT, charges, "INR")
    invoice = Invoice.model_validate(doc)
    assert invoice.status == "issued" and len(invoice.lineItem) == 40
    assert money_value(doc["totalNet"]) == money_value(doc["totalGross"]) == total_of(charges)
    assert sum(money_value(li["priceComponent"][0]["amount"]) for li in doc["lineItem"]) == total_of(charges)
    assert [li["chargeItemReference"]["reference"] for li in doc["lineItem"]][:2] == ["ChargeItem/charge-0",
                                                                                    "ChargeItem/charge-1"]
    # It survives the JSON round trip the database and API put it through.
    assert Invoice.model_validate(json.loads(json.dumps(doc))).id == "invoice-e1"


def test_claim_validates_with_the_invoice_lines_and_total() -> None:
    charges = lines(25, seed=3)
    doc = build_claim("claim-e1", "p1", "invoice-e1", AT, charges, "INR", "self-pay")
    claim = Claim.model_validate(doc)
    assert claim.use == "claim" and claim.patient.reference == "Patient/p1" and len(claim.item) == 25
    assert money_value(doc["total"]) == total_of(charges) == sum(money_value(i["net"]) for i in doc["item"])
    assert all(money_value(i["unitPrice"]) * i["quantity"]["value"] == money_value(i["net"]) for i in doc["item"])


def test_empty_stay_totals_zero() -> None:
    doc = build_invoice("invoice-e2", "p1", "e2", AT, [], "INR")
    assert money_value(doc["totalNet"]) == Decimal("0.00") and "lineItem" not in doc


def stage(kind: str, sid: str, status: str = "completed", **result: object) -> StageStatus:
    return StageStatus(kind=kind, stage_id=sid, workflow_id=f"{kind}-{sid}", status=status, result=dict(result))


def test_pending_results_block_on_running_or_unreported_flagged_imaging() -> None:
    stages = [stage("imaging", "a", "running"), stage("imaging", "b", flagged=True, report_status="preliminary"),
              stage("imaging", "c", flagged=True, report_status="final"), stage("imaging", "d", flagged=False),
              stage("imaging", "e", priority="flagged", reported=False), stage("pharmacy", "rx", "running"),
              stage("imaging", "f", "cancelled", flagged=True)]
    assert pending_results(stages) == [
        {"stage_id": "a", "kind": "imaging", "reason": "imaging-in-progress"},
        {"stage_id": "b", "kind": "imaging", "reason": "flagged-study-unreported"},
        {"stage_id": "e", "kind": "imaging", "reason": "flagged-study-unreported"},
    ]
    assert pending_results([stage("imaging", "c", flagged=True, reported=True)]) == []


def test_active_medication_orders_are_running_pharmacy_stages_plus_named_ones() -> None:
    stages = [stage("pharmacy", "rx-1", "running"), stage("pharmacy", "rx-2", "completed"), stage("imaging", "i")]
    assert active_medication_orders(stages, ["rx-9", "rx-1"]) == ["rx-1", "rx-9"]


def test_composition_validates_and_copies_no_free_text() -> None:
    secret = "patient disclosed a private history"
    stages = [stage("imaging", "s1", flagged=True, report_status="final", impression=secret),
              stage("pharmacy", "rx-1", "running", note=secret)]
    doc = build_composition("discharge-summary-e1", patient_id="p1", encounter_id="e1", ward="medical",
                            attending="attending-1", at=AT, stages=stages,
                            medications={"rx-1": "continue", "rx-2": "stop"},
                            follow_up_date=date(2026, 12, 9), follow_up_clinic="respiratory")
    comp = Composition.model_validate(doc)
    assert comp.type.coding[0].code == "18842-5" and comp.subject.reference == "Patient/p1"
    codes = [s.code.coding[0].code for s in comp.section]
    assert codes == ["8648-8", "10183-2", "18776-5"]
    meds = comp.section[1]
    assert [e.reference for e in meds.entry] == ["MedicationRequest/rx-1"]
    assert "2026-12-09" in comp.section[2].text.div and "respiratory" in comp.section[2].text.div
    assert secret not in json.dumps(doc)
    assert [c["code"] for c in doc["meta"]["security"]] == ["R"]


def test_psychiatric_stay_summary_is_labelled_sensitive() -> None:
    doc = build_composition("ds", patient_id="p1", encounter_id="e1", ward="psychiatry", attending=None, at=AT,
                            stages=[], medications={}, follow_up_date=None, follow_up_clinic=None)
    assert "PSY" in [c["code"] for c in doc["meta"]["security"]]
    assert Composition.model_validate(doc).author[0].display == "attending physician"

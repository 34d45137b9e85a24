"""FHIR R4 ``Invoice`` and ``Claim`` shapes of a stay's charges, built and validated with fhir.resources.

Both carry the same lines as the stored charges and totals computed from them
with exact decimals; only ids, codes and amounts appear, never clinical text.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.invoice import Invoice

TARIFF_SYSTEM = "urn:hms:tariff"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
INVOICE_KIND = "urn:hms:invoice-kind"
HOSPITAL = {"reference": "Organization/hms-hospital", "display": "HMS hospital"}


@dataclass(frozen=True)
class ChargeLine:
    charge_id: str
    code: str
    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    currency: str


def total_of(lines: Sequence[ChargeLine]) -> Decimal:
    """The exact sum of the lines (Decimal addition; an empty stay totals 0.00)."""
    return sum((line.amount for line in lines), Decimal("0.00"))


def _money(value: Decimal, currency: str) -> dict[str, Any]:
    return {"value": value, "currency": currency}


def build_invoice(invoice_id: str, patient_id: str, encounter_id: str, at: datetime, lines: Sequence[ChargeLine],
                  currency: str, status: str = "issued", kind: str = "stay") -> dict[str, Any]:
    """An R4 Invoice whose lineItems reference the ChargeItems and whose totals are their sum.

    A supplementary invoice (charges posted after the stay's invoice) says so in ``type``."""
    total = total_of(lines)
    invoice = Invoice.model_validate({
        "resourceType": "Invoice", "id": invoice_id, "status": status,
        "identifier": [{"system": "urn:hms:encounter", "value": encounter_id}],
        **({"type": {"coding": [{"system": INVOICE_KIND, "code": kind}]}} if kind != "stay" else {}),
        "subject": {"reference": f"Patient/{patient_id}"},
        "issuer": HOSPITAL, "date": at,
        "lineItem": [{
            "sequence": n, "chargeItemReference": {"reference": f"ChargeItem/{line.charge_id}"},
            "priceComponent": [{"type": "base", "code": {"coding": [{"system": TARIFF_SYSTEM, "code": line.code}]},
                                "factor": Decimal(line.quantity), "amount": _money(line.amount, currency)}],
        } for n, line in enumerate(lines, start=1)],
        "totalNet": _money(total, currency), "totalGross": _money(total, currency),
    })
    return invoice.model_dump(mode="json", exclude_none=True)


def build_claim(claim_id: str, patient_id: str, invoice_id: str, at: datetime, lines: Sequence[ChargeLine],
                currency: str, payer: str) -> dict[str, Any]:
    """An institutional R4 Claim for the invoice, one item per charge, total = the invoice total."""
    claim = Claim.model_validate({
        "resourceType": "Claim", "id": claim_id, "status": "active", "use": "claim",
        "identifier": [{"system": "urn:hms:invoice", "value": invoice_id}],
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "institutional"}]},
        "patient": {"reference": f"Patient/{patient_id}"},
        "created": at, "provider": HOSPITAL,
        "priority": {"coding": [{"system": PRIORITY, "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"identifier": {"system": "urn:hms:payer",
                                                                               "value": payer}}}],
        "item": [{
            "sequence": n,
            "productOrService": {"coding": [{"system": TARIFF_SYSTEM, "code": line.code,
                                             "display": line.description}]},
            "quantity": {"value": Decimal(line.quantity)},
            "unitPrice": _money(line.unit_price, currency), "net": _money(line.amount, currency),
        } for n, line in enumerate(lines, start=1)],
        "total": _money(total_of(lines), currency),
    })
    return claim.model_dump(mode="json", exclude_none=True)


def money_value(money: dict[str, Any]) -> Decimal:
    """A FHIR Money value back as an exact Decimal (JSON numbers of two places round-trip exactly)."""
    return Decimal(str(money["value"])).quantize(Decimal("0.01"))

"""Billing reads: a stay's charges, its invoice and its claim (billing clerks, per policy).

Each route authorizes against the patient the record belongs to (one ledger entry,
allowed or denied) before anything is read; money is returned as exact decimal strings.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from activities.storage import billing_repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.services import ApiServices

router = APIRouter(prefix="/api/v1", tags=["billing"])


class ChargeOut(BaseModel):
    id: str
    code: str
    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    currency: str
    source: str
    source_id: str
    occurred_at: Any
    invoice_id: str | None


class ChargesOut(BaseModel):
    encounter_id: str
    total: Decimal
    currency: str | None
    charges: list[ChargeOut]


def _patient_of_encounter(services: ApiServices, encounter_id: str) -> tuple[str, str] | None:
    with services.sessions() as s:
        enc = billing_repo.encounter(s, encounter_id)
        return (enc.patient_id, enc.ward_id) if enc else None


@router.get("/encounters/{encounter_id}/charges", response_model=ChargesOut)
async def list_charges(encounter_id: str, user: CurrentUser, services: Services) -> ChargesOut:
    """Every charge of a stay, with their exact total."""
    found = await run_in_threadpool(_patient_of_encounter, services, encounter_id)
    if found is None:
        raise HTTPException(404, f"encounter {encounter_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "ChargeItem", found[0], encounter_id,
                                       default_ward=found[1])
    await authorize(services, user, action="list", resource=resource, subtype="charge.list")

    def read() -> ChargesOut:
        with services.sessions() as s:
            rows = billing_repo.charges_of(s, encounter_id)
            charges = [ChargeOut(id=c.id, code=c.code, description=c.description, quantity=c.quantity,
                                 unit_price=c.unit_price, amount=c.amount, currency=c.currency, source=c.source,
                                 source_id=c.source_id, occurred_at=c.occurred_at, invoice_id=c.invoice_id)
                       for c in rows]
        total = sum((c.amount for c in charges), Decimal("0.00"))
        return ChargesOut(encounter_id=encounter_id, total=total,
                          currency=charges[0].currency if charges else None, charges=charges)

    return await run_in_threadpool(read)


@router.get("/invoices/{invoice_id}")
async def get_invoice(invoice_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """The invoice with its FHIR R4 ``Invoice`` resource (``resource``)."""
    row = await run_in_threadpool(_read, services, "invoice", invoice_id)
    if row is None:
        raise HTTPException(404, f"invoice {invoice_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "Invoice", row["patient_id"], invoice_id)
    await authorize(services, user, action="read", resource=resource, subtype="invoice.read")
    return row


@router.get("/claims/{claim_id}")
async def get_claim(claim_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """The claim, its settlement (paid amount or denial) and its FHIR R4 ``Claim`` resource."""
    row = await run_in_threadpool(_read, services, "claim", claim_id)
    if row is None:
        raise HTTPException(404, f"claim {claim_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "Claim", row["patient_id"], claim_id)
    await authorize(services, user, action="read", resource=resource, subtype="claim.read")
    return row


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _read(services: ApiServices, kind: str, record_id: str) -> dict[str, Any] | None:
    with services.sessions() as s:
        if kind == "invoice":
            inv = billing_repo.get_invoice(s, record_id)
            if inv is None:
                return None
            return {"id": inv.id, "encounter_id": inv.encounter_id, "patient_id": inv.patient_id,
                    "status": inv.status, "currency": inv.currency, "total": _money(inv.total),
                    "paid_amount": _money(inv.paid_amount), "resource": inv.resource}
        claim = billing_repo.get_claim(s, record_id)
        if claim is None:
            return None
        return {"id": claim.id, "invoice_id": claim.invoice_id, "encounter_id": claim.encounter_id,
                "patient_id": claim.patient_id, "status": claim.status, "outcome": claim.outcome,
                "payer": claim.payer, "currency": claim.currency, "total": _money(claim.total),
                "paid_amount": _money(claim.paid_amount), "denial_reason": claim.denial_reason,
                "resource": claim.resource}

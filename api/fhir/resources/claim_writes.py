"""Claim create and update over FHIR.

Create submits the insurance claim of an invoice — named by an identifier of system
``urn:hms:invoice``, as the claims the billing journey submits name theirs — with the payer in
``insurance.coverage.identifier`` (system ``urn:hms:payer``). Items and total are the invoice's
charges, as the journey computes them, so a ``total`` or ``item`` net the client sends must agree
(422). The invoice must exist, be issued, and have no active claim (409 otherwise).

Update withdraws a claim (``cancelled``) while the payer has not adjudicated it, and changes
nothing else; the insurer's payment or denial is recorded on the settlement path (the billing
clerk's settlement task, or an Invoice update to ``balanced``), never by editing the Claim.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from activities.billing_fhir import build_claim, money_value
from activities.crypto.fields import FieldCipher
from activities.storage import billing_adjust, billing_repo
from activities.storage.models_billing import Claim, Invoice
from api.auth import Principal
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, ResourceType, WriteContext, Written, read_written
from api.fhir.resources.billing_updates import in_store, settlement_task, status_change, stored, through_task
from api.fhir.resources.common import known_patient
from api.services import ApiServices

INVOICE_SYSTEM = "urn:hms:invoice"
PAYER_SYSTEM = "urn:hms:payer"


def _invoice_id(body: Resource) -> str:
    for ident in body.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == INVOICE_SYSTEM and ident.get("value"):
            return str(ident["value"])[:80]
    raise FhirError(422, f"Claim.identifier: name the invoice claimed (system {INVOICE_SYSTEM})",
                    expression=["Claim.identifier"])


def _payer(body: Resource) -> str:
    insurance = sorted((i for i in body.get("insurance") or [] if isinstance(i, dict)),
                       key=lambda i: not i.get("focal"))
    ident = ((insurance[0].get("coverage") or {}).get("identifier") or {}) if insurance else {}
    value = ident.get("value") if ident.get("system") == PAYER_SYSTEM else None
    if not isinstance(value, str) or not value.strip() or len(value) > 80:
        raise FhirError(422, f"Claim.insurance.coverage: identify the payer (identifier of system {PAYER_SYSTEM}, "
                             "up to 80 characters)", expression=["Claim.insurance.coverage"])
    return value


def _agrees(money: Any, value: Decimal, currency: str) -> bool:
    try:
        return isinstance(money, dict) and money_value(money) == value and money.get("currency") in (None, currency)
    except (InvalidOperation, KeyError, TypeError):
        return False


def _check_amounts(body: Resource, invoice: Invoice) -> None:
    wrong = []
    if body.get("total") is not None and not _agrees(body["total"], invoice.total, invoice.currency):
        wrong.append("Claim.total")
    items = body.get("item") or []
    if items:
        try:
            nets = sum((money_value(i["net"]) for i in items), Decimal("0.00"))
        except (InvalidOperation, KeyError, TypeError):
            nets = None
        if nets != invoice.total:
            wrong.append("Claim.item.net")
    if wrong:
        raise FhirError(422, f"{', '.join(wrong)}: a claim's amounts are its invoice's ({invoice.total} "
                             f"{invoice.currency}); omit them or send the invoice's", expression=wrong)


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    """Submit the invoice's claim and answer it as a read serves it."""
    patient_id = known_patient(session, body, "Claim", "patient")
    if body.get("status") != "active" or body.get("use") != "claim":
        element = "Claim.status" if body.get("status") != "active" else "Claim.use"
        raise FhirError(422, "a new Claim is active, with use claim", expression=[element])
    invoice_id = _invoice_id(body)
    payer = _payer(body)
    invoice = session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None:
        raise FhirError(409, f"Invoice/{invoice_id} does not exist: a claim is for an issued invoice")
    if invoice.patient_id != patient_id:
        raise FhirError(422, "Claim.patient must be the invoice's subject", expression=["Claim.patient"])
    if invoice.status != "issued":
        raise FhirError(409, f"Invoice/{invoice_id} is {invoice.status}: a claim is for an issued invoice")
    active = billing_repo.active_claim(session, invoice_id)
    if active is not None:
        raise FhirError(409, f"Invoice/{invoice_id} already has an active claim (Claim/{active.id}); withdraw it "
                             "first")
    _check_amounts(body, invoice)
    at, claim_id = datetime.now(UTC), body["id"]
    try:
        claim, _ = billing_repo.submit_claim(
            session, claim_id=claim_id, invoice=invoice, payer=payer, at=at,
            build=lambda lines: build_claim(claim_id, patient_id, invoice_id, at, lines, invoice.currency, payer))
    except billing_repo.BillingConflict as exc:
        raise FhirError(409, str(exc)) from None
    return read_written(session, cipher, "Claim", claim.id), True


def _plan(session: Session, claim_id: str) -> Any:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise FhirError(404, f"Claim/{claim_id} not found")
    if claim.status != "active":
        raise FhirError(409, f"Claim/{claim_id} is already {claim.status}")
    if claim.outcome != "queued":
        raise FhirError(409, f"Claim/{claim_id} was adjudicated ({claim.outcome}): it is not withdrawn")
    task = settlement_task(session, claim.encounter_id, "claim_id", claim_id)
    invoice = session.get(Invoice, claim.invoice_id)
    if task is False and (invoice is None or invoice.kind != "stay"):
        task = None
    if task is False:
        raise FhirError(409, f"the billing journey has not opened the settlement task of Claim/{claim_id} yet; "
                             "try again shortly")
    return task


async def update(services: ApiServices, user: Principal, rt: ResourceType, rid: str, body: Resource,
                 current: Resource) -> Written:
    """``cancelled`` (withdrawn before adjudication), on the settlement path; any other change is a 422."""
    wanted = status_change(rt, body, current)
    if wanted is not None and wanted != "cancelled":
        raise FhirError(422, "Claim.status: a claim is withdrawn (cancelled); its payment or denial is recorded on "
                             "the settlement task or as the invoice's status", expression=["Claim.status"])
    task = await in_store(services, _plan, rid)
    if wanted is None:
        return current, False
    if task is not None:
        await through_task(services, user, task, {"outcome": "withdrawn"})
    else:
        await in_store(services, lambda s: billing_adjust.withdraw_claim(s, rid, by=user.user_id,
                                                                         at=datetime.now(UTC)))
    return await stored(services, rt, rid)

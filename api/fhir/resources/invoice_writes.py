"""Invoice create and update over FHIR.

Create issues a supplementary invoice for a finished stay: over the billable charges its lineItems
name (``chargeItemReference``), or over all the stay's billable charges not yet on an invoice when
it names none. The stay comes from the named charges or an identifier of system ``urn:hms:encounter``.
Lines and totals are computed from the charges, as the billing journey computes the stay invoice,
so a ``totalGross``/``totalNet``/``priceComponent`` the client sends must agree (422 otherwise); the
database keeps each charge on at most one invoice, so a named charge already billed is a 409, as is
a stay with nothing left to bill. The id derives from the first identifier (a blind index) or from
the named charges, so a repeated create answers 200 with the invoice it issued.

Update records a payment in full (``balanced``) or a cancellation (``cancelled``) and nothing else,
through the billing journey's settlement task while it is open (``billing_updates``).
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from activities.billing_fhir import total_of
from activities.crypto.fields import FieldCipher
from activities.storage import billing_adjust, billing_repo
from activities.storage.models_billing import ChargeItem, Invoice
from api.auth import Principal
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, ResourceType, WriteContext, Written, read_written
from api.fhir.resources.billing_updates import in_store, settlement_task, status_change, stored, through_task
from api.fhir.resources.common import known_patient
from api.services import ApiServices

ENCOUNTER_SYSTEM = "urn:hms:encounter"


def _client_identifier(body: Resource) -> dict[str, Any] | None:
    for ident in body.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value") and ident.get("system") != ENCOUNTER_SYSTEM:
            return ident
    return None


def _named(body: Resource, strict: bool) -> list[str]:
    """The ChargeItem ids the lineItems name (``strict``: 422 on a line that names none, or twice)."""
    out: list[str] = []
    for item in body.get("lineItem") or []:
        ref = (item.get("chargeItemReference") or {}).get("reference") if isinstance(item, dict) else None
        rid = ref.split("/", 1)[1] if isinstance(ref, str) and ref.startswith("ChargeItem/") else None
        if rid and len(rid) <= 60 and rid not in out:
            out.append(rid)
        elif strict:
            raise FhirError(422, "Invoice.lineItem.chargeItemReference: each line names a different ChargeItem/<id> "
                                 "(lines are the stay's charges)",
                            expression=["Invoice.lineItem.chargeItemReference"])
    return out


def new_id(body: Resource, ctx: WriteContext) -> str:
    """From the first identifier (blind index), else from the named charges, else a fresh uuid."""
    ident = _client_identifier(body)
    if ident is not None and ctx.cipher is not None:
        index = ctx.cipher.blind_index(f"invoice|{ident.get('system') or ''}", str(ident["value"]))
        return str(uuid.UUID(bytes=index[:16], version=4))
    named = _named(body, strict=False)
    if named:
        return "invoice-" + hashlib.sha256("|".join(sorted(named)).encode()).hexdigest()[:32]
    return str(uuid.uuid4())


def _read(session: Session, cipher: FieldCipher, invoice_id: str) -> Resource:
    return read_written(session, cipher, "Invoice", invoice_id)


def _stay(session: Session, body: Resource, named: list[str], patient_id: str) -> str:
    """The stay to bill: the named charges' (one stay) or the urn:hms:encounter identifier's."""
    stays = {c.encounter_id for c in (session.get(ChargeItem, cid) for cid in named) if c is not None}
    given = {i.get("value") for i in body.get("identifier") or []
             if isinstance(i, dict) and i.get("system") == ENCOUNTER_SYSTEM and i.get("value")}
    if len(stays) > 1 or (stays and given and stays != given):
        raise FhirError(422, "Invoice.lineItem.chargeItemReference: the charges of one invoice are of one stay "
                             "(the one its urn:hms:encounter identifier names)",
                        expression=["Invoice.lineItem.chargeItemReference"])
    found = stays or given
    enc = billing_repo.encounter(session, str(next(iter(found)))[:36]) if len(found) == 1 else None
    if enc is None or enc.patient_id != patient_id:
        raise FhirError(422, "Invoice.identifier: name the stay (system urn:hms:encounter) or its charges "
                             "(lineItem.chargeItemReference); the stay must be the subject's",
                        expression=["Invoice.identifier"])
    if enc.status != "finished":
        raise FhirError(409, f"Encounter/{enc.id} is {enc.status}: its charges go on the stay's invoice at "
                             "discharge; a supplementary invoice is for a finished stay")
    return enc.id


def _charges(session: Session, encounter_id: str, named: list[str]) -> list[ChargeItem]:
    billable = billing_repo.billable_charges(session, encounter_id)
    if not named:
        if not billable:
            raise FhirError(409, f"Encounter/{encounter_id} has no billable charge that is not on an invoice")
        return billable
    ids = {c.id for c in billable}
    for cid in named:
        if cid in ids:
            continue
        charge = session.get(ChargeItem, cid)
        if charge is None or charge.encounter_id != encounter_id:
            raise FhirError(422, f"Invoice.lineItem.chargeItemReference: ChargeItem/{cid} is not a charge of the "
                                 "stay", expression=["Invoice.lineItem.chargeItemReference"])
        state = f"on Invoice/{charge.invoice_id}" if charge.invoice_id else "entered in error"
        raise FhirError(409, f"ChargeItem/{cid} is not billable: it is {state}")
    return [c for c in billable if c.id in set(named)]


def _money_agrees(money: Any, value: Decimal, currency: str) -> bool:
    if not isinstance(money, dict):
        return False
    try:
        same = Decimal(str(money.get("value"))) == value
    except InvalidOperation:
        return False
    return same and money.get("currency") in (None, currency)


def _check_amounts(body: Resource, charges: list[ChargeItem], currency: str) -> None:
    """Client-sent totals and line prices must be the charges' (422 naming each element that is not)."""
    total = total_of(billing_repo.lines_of(charges))
    wrong = [f"Invoice.{e}" for e in ("totalGross", "totalNet")
             if body.get(e) is not None and not _money_agrees(body[e], total, currency)]
    amounts = {c.id: c.amount for c in charges}
    for item in body.get("lineItem") or []:
        components = item.get("priceComponent") or []
        cid = ((item.get("chargeItemReference") or {}).get("reference") or "").split("/", 1)[-1]
        if components and not (all(p.get("type") == "base" for p in components) and sum(
                (Decimal(str((p.get("amount") or {}).get("value", "NaN"))) for p in components), Decimal(0))
                == amounts.get(cid)):
            wrong.append("Invoice.lineItem.priceComponent")
            break
    if body.get("totalPriceComponent"):
        wrong.append("Invoice.totalPriceComponent")
    if wrong:
        raise FhirError(422, f"{', '.join(wrong)}: an invoice is priced from its charges (total {total} {currency}); "
                             "omit these or send the charges' amounts", expression=wrong)


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    """Issue the supplementary invoice (once per id) and answer it as a read serves it."""
    patient_id = known_patient(session, body, "Invoice", "subject")
    if body.get("status") != "issued":
        raise FhirError(422, "a new Invoice has status issued", expression=["Invoice.status"])
    named = _named(body, strict=True)
    existing = session.get(Invoice, body["id"]) if len(body["id"]) <= 80 else None
    if existing is None:
        encounter_id = _stay(session, body, named, patient_id)
        billing_repo.lock_stay(session, encounter_id)
        existing = session.get(Invoice, body["id"])
    if existing is not None:
        if existing.patient_id != patient_id:
            raise FhirError(409, f"Invoice/{body['id']} was issued for another patient")
        return _read(session, cipher, existing.id), False
    charges = _charges(session, encounter_id, named)
    currency = charges[0].currency
    try:
        _check_amounts(body, charges, currency)
    except (InvalidOperation, AttributeError, TypeError):
        raise FhirError(422, "Invoice.lineItem.priceComponent: amounts are the charges'",
                        expression=["Invoice.lineItem.priceComponent"]) from None
    enc = billing_repo.encounter(session, encounter_id)
    assert enc is not None
    try:
        invoice = billing_repo.issue_supplementary(
            session, invoice_id=body["id"], encounter_id=encounter_id, patient_id=patient_id,
            journey_id=enc.journey_id, currency=currency, at=datetime.now(UTC), charges=charges)
    except billing_repo.BillingConflict as exc:
        raise FhirError(409, str(exc)) from None
    return _read(session, cipher, invoice.id), True


def _plan(session: Session, invoice_id: str) -> Any:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise FhirError(404, f"Invoice/{invoice_id} not found")
    if invoice.status in billing_adjust.SETTLED:
        raise FhirError(409, f"Invoice/{invoice_id} is already {invoice.status}")
    task = settlement_task(session, invoice.encounter_id, "invoice_id", invoice_id)
    if task is False and invoice.kind != "stay":
        task = None
    if task is False:
        raise FhirError(409, f"the billing journey has not opened the settlement task of Invoice/{invoice_id} yet; "
                             "try again shortly")
    return task, invoice.total


async def update(services: ApiServices, user: Principal, rt: ResourceType, rid: str, body: Resource,
                 current: Resource) -> Written:
    """``balanced`` (paid in full) or ``cancelled``, on the settlement path; any other change is a 422."""
    wanted = status_change(rt, body, current)
    if wanted is not None and wanted not in ("balanced", "cancelled"):
        raise FhirError(422, "Invoice.status: an issued invoice becomes balanced (paid in full) or cancelled",
                        expression=["Invoice.status"])
    task, total = await in_store(services, _plan, rid)
    if wanted is None:
        return current, False
    if task is not None:
        payload = {"outcome": "paid", "paid_amount": str(total)} if wanted == "balanced" else {"outcome": "cancelled"}
        await through_task(services, user, task, payload)
    else:
        await in_store(services, lambda s: billing_adjust.settle_invoice(s, rid, wanted, by=user.user_id,
                                                                         at=datetime.now(UTC)))
    return await stored(services, rt, rid)

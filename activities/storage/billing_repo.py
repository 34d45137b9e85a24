"""Repository functions for charges, invoices and claims: every write is idempotent.

A charge is keyed by its idempotency key; an invoice by its encounter; a claim by
its invoice. Running any function twice leaves the store as one run would, which
is what keeps totals equal to the charges under retries and replays.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.billing_fhir import ChargeLine, total_of
from activities.billing_tariff import Tariff
from activities.storage.models import Encounter
from activities.storage.models_billing import ChargeItem, Claim, Invoice


class BillingConflict(Exception):
    """The request contradicts what is already billed (retrying will not help)."""


def charge_id_for(idempotency_key: str) -> str:
    return "charge-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def record_charge(session: Session, tariff: Tariff, *, key: str, encounter_id: str, patient_id: str,
                  journey_id: str, code: str, quantity: int, source: str, source_id: str,
                  occurred_at: datetime) -> tuple[ChargeItem, bool]:
    """Insert the priced charge unless its key exists; returns (the charge under that key, created)."""
    item = tariff.item(code)
    inserted = session.execute(
        insert(ChargeItem).values(
            id=charge_id_for(key), idempotency_key=key, encounter_id=encounter_id, patient_id=patient_id,
            journey_id=journey_id, code=code, description=item.description, quantity=quantity,
            unit_price=item.unit_price, amount=tariff.price(code, quantity), currency=item.currency,
            source=source, source_id=source_id, occurred_at=occurred_at,
        # No conflict target: the id derives from the key, so two concurrent deliveries of one key
        # collide on the primary key or on the key's unique index, whichever the database checks first.
        ).on_conflict_do_nothing().returning(ChargeItem.id)
    ).scalar()
    charge = session.scalars(sa.select(ChargeItem).where(ChargeItem.idempotency_key == key)).one()
    if charge.encounter_id != encounter_id:
        raise BillingConflict(f"idempotency key {key} is already used by another encounter")
    return charge, inserted is not None


def encounter(session: Session, encounter_id: str) -> Encounter | None:
    return session.get(Encounter, encounter_id)


def charges_of(session: Session, encounter_id: str) -> list[ChargeItem]:
    return list(session.scalars(sa.select(ChargeItem).where(ChargeItem.encounter_id == encounter_id)
                                .order_by(ChargeItem.occurred_at, ChargeItem.id)))


def lines_of(charges: list[ChargeItem]) -> list[ChargeLine]:
    return [ChargeLine(charge_id=c.id, code=c.code, description=c.description, quantity=c.quantity,
                       unit_price=c.unit_price, amount=c.amount, currency=c.currency) for c in charges]


def issue_invoice(session: Session, *, invoice_id: str, encounter_id: str, patient_id: str, journey_id: str,
                  currency: str, at: datetime,
                  build: Callable[[list[ChargeLine]], dict[str, Any]]) -> tuple[Invoice, bool]:
    """Invoice every uninvoiced charge of the stay once; a second call returns the first invoice."""
    existing = session.scalar(sa.select(Invoice).where(Invoice.encounter_id == encounter_id))
    if existing is not None:
        return existing, False
    # Serialise issuers of the same stay: the loser of the race finds the winner's invoice above on retry.
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"invoice:{encounter_id}"))))
    existing = session.scalar(sa.select(Invoice).where(Invoice.encounter_id == encounter_id))
    if existing is not None:
        return existing, False
    charges = [c for c in charges_of(session, encounter_id) if c.invoice_id is None]
    if any(c.currency != currency for c in charges):
        raise BillingConflict("charges of the stay are in more than one currency")
    lines = lines_of(charges)
    invoice = Invoice(id=invoice_id, encounter_id=encounter_id, patient_id=patient_id, journey_id=journey_id,
                      status="issued", currency=currency, total=total_of(lines), resource=build(lines),
                      created_at=at)
    session.add(invoice)
    session.flush()
    session.execute(sa.update(ChargeItem).where(ChargeItem.id.in_([c.id for c in charges]))
                    .values(invoice_id=invoice_id))
    return invoice, True


def submit_claim(session: Session, *, claim_id: str, invoice: Invoice, payer: str, at: datetime,
                 build: Callable[[list[ChargeLine]], dict[str, Any]]) -> tuple[Claim, bool]:
    """The claim of an invoice, built from exactly the invoice's charges; idempotent by invoice."""
    existing = session.scalar(sa.select(Claim).where(Claim.invoice_id == invoice.id))
    if existing is not None:
        return existing, False
    charges = list(session.scalars(sa.select(ChargeItem).where(ChargeItem.invoice_id == invoice.id)
                                   .order_by(ChargeItem.occurred_at, ChargeItem.id)))
    lines = lines_of(charges)
    if total_of(lines) != invoice.total:
        raise BillingConflict(f"invoice {invoice.id} total differs from its charges")
    # The unique invoice_id makes a concurrent duplicate a no-op rather than a second claim.
    inserted = session.execute(insert(Claim).values(
        id=claim_id, invoice_id=invoice.id, encounter_id=invoice.encounter_id, patient_id=invoice.patient_id,
        status="active", outcome="queued", payer=payer, currency=invoice.currency, total=invoice.total,
        resource=build(lines), created_at=at,
    ).on_conflict_do_nothing().returning(Claim.id)).scalar()
    return session.scalars(sa.select(Claim).where(Claim.invoice_id == invoice.id)).one(), inserted is not None


def settle_claim(session: Session, *, claim_id: str, outcome: str, paid_amount: Decimal | None,
                 denial_reason: str | None, by: str, at: datetime) -> Claim:
    """Record payment or denial once; the same settlement again is a no-op, a different one a conflict."""
    claim = session.get(Claim, claim_id, with_for_update=True)
    if claim is None:
        raise BillingConflict(f"claim {claim_id} not found")
    if claim.outcome != "queued":
        if claim.outcome == outcome and claim.paid_amount == paid_amount:
            return claim
        raise BillingConflict(f"claim {claim_id} is already {claim.outcome}")
    claim.outcome, claim.paid_amount, claim.denial_reason = outcome, paid_amount, denial_reason
    claim.settled_by, claim.settled_at = by, at
    invoice = session.get(Invoice, claim.invoice_id, with_for_update=True)
    assert invoice is not None
    if outcome == "paid":
        invoice.paid_amount = paid_amount
        if paid_amount == invoice.total:
            invoice.status = "balanced"
            invoice.resource = {**invoice.resource, "status": "balanced"}
    return claim


def get_invoice(session: Session, invoice_id: str) -> Invoice | None:
    return session.get(Invoice, invoice_id)


def get_claim(session: Session, claim_id: str) -> Claim | None:
    return session.get(Claim, claim_id)

"""Repository functions for charges, invoices and claims: every write is idempotent.

A charge is keyed by its idempotency key; the stay invoice by its encounter; a claim by
its invoice. Running any function twice leaves the store as one run would, which
is what keeps totals equal to the charges under retries and replays.

A charge posted after the stay invoice was issued (a late charge: a stage ending after
discharge, a departmental system's ChargeItem) goes, in the transaction that records it,
on a supplementary invoice with its claim (``invoice-<charge id>``, ``claim-<charge id>``).
Every write that decides which invoice a charge goes on first takes the stay's lock
(``lock_stay``), and the database keeps a charge on at most one invoice (migration 0906).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.billing_fhir import ChargeLine, build_claim, build_invoice, total_of
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
    lock_stay(session, encounter_id)
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
    _bill_if_late(session, charge, item.currency)
    return charge, inserted is not None


def lock_stay(session: Session, encounter_id: str) -> None:
    """Serialise, until the transaction ends, every write deciding which invoice a charge of the stay goes on."""
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"invoice:{encounter_id}"))))


def late_invoice_id(charge_id: str) -> str:
    """The supplementary invoice a late charge opens (its claim is ``claim-<charge id>``)."""
    return f"invoice-{charge_id}"


def _bill_if_late(session: Session, charge: ChargeItem, currency: str) -> None:
    """Under the stay's lock: once the stay invoice exists, an unbilled charge goes on a supplementary
    invoice (with the stay's other unbilled charges, if any were left) and its claim, in this transaction."""
    if charge.invoice_id is not None or charge.reversed_at is not None:
        return
    stay = stay_invoice(session, charge.encounter_id)
    if stay is None:
        return
    invoice_id = late_invoice_id(charge.id)
    invoice = issue_supplementary(session, invoice_id=invoice_id, encounter_id=charge.encounter_id,
                                  patient_id=charge.patient_id, journey_id=charge.journey_id, currency=currency,
                                  at=datetime.now(UTC), charges=billable_charges(session, charge.encounter_id))
    payer = session.scalar(sa.select(Claim.payer).where(Claim.encounter_id == charge.encounter_id)
                           .order_by(Claim.created_at.desc(), Claim.id).limit(1)) or "self-pay"
    at = invoice.created_at
    submit_claim(session, claim_id=f"claim-{charge.id}", invoice=invoice, payer=payer, at=at,
                 build=lambda lines: build_claim(f"claim-{charge.id}", invoice.patient_id, invoice_id, at, lines,
                                                 currency, payer))


def encounter(session: Session, encounter_id: str) -> Encounter | None:
    return session.get(Encounter, encounter_id)


def charges_of(session: Session, encounter_id: str, *, reversed_too: bool = False) -> list[ChargeItem]:
    """The stay's charges, oldest first; those entered in error only when ``reversed_too``."""
    stmt = sa.select(ChargeItem).where(ChargeItem.encounter_id == encounter_id)
    if not reversed_too:
        stmt = stmt.where(ChargeItem.reversed_at.is_(None))
    return list(session.scalars(stmt.order_by(ChargeItem.occurred_at, ChargeItem.id)))


def billable_charges(session: Session, encounter_id: str) -> list[ChargeItem]:
    """The stay's charges on no invoice and not entered in error (call under ``lock_stay``)."""
    return [c for c in charges_of(session, encounter_id) if c.invoice_id is None]


def stay_invoice(session: Session, encounter_id: str) -> Invoice | None:
    """The invoice the billing journey issued for the stay, if it has."""
    return session.scalar(sa.select(Invoice).where(Invoice.encounter_id == encounter_id, Invoice.kind == "stay"))


def lines_of(charges: list[ChargeItem]) -> list[ChargeLine]:
    return [ChargeLine(charge_id=c.id, code=c.code, description=c.description, quantity=c.quantity,
                       unit_price=c.unit_price, amount=c.amount, currency=c.currency) for c in charges]


def issue_invoice(session: Session, *, invoice_id: str, encounter_id: str, patient_id: str, journey_id: str,
                  currency: str, at: datetime,
                  build: Callable[[list[ChargeLine]], dict[str, Any]]) -> tuple[Invoice, bool]:
    """The stay invoice over every unbilled charge of the stay, once; a second call returns the first invoice."""
    existing = stay_invoice(session, encounter_id)
    if existing is not None:
        return existing, False
    # Serialise issuers and chargers of the same stay: a charge recorded meanwhile is either seen here
    # or, recorded after, finds this invoice and goes on a supplementary one.
    lock_stay(session, encounter_id)
    existing = stay_invoice(session, encounter_id)
    if existing is not None:
        return existing, False
    invoice = _issue(session, invoice_id=invoice_id, kind="stay", encounter_id=encounter_id, patient_id=patient_id,
                     journey_id=journey_id, currency=currency, at=at,
                     charges=billable_charges(session, encounter_id), build=build)
    return invoice, True


def issue_supplementary(session: Session, *, invoice_id: str, encounter_id: str, patient_id: str, journey_id: str,
                        currency: str, at: datetime, charges: list[ChargeItem],
                        build: Callable[[list[ChargeLine]], dict[str, Any]] | None = None) -> Invoice:
    """A supplementary invoice over exactly ``charges`` (unbilled ones of the stay, under ``lock_stay``)."""
    def default(lines: list[ChargeLine]) -> dict[str, Any]:
        return build_invoice(invoice_id, patient_id, encounter_id, at, lines, currency, kind="supplementary")

    return _issue(session, invoice_id=invoice_id, kind="supplementary", encounter_id=encounter_id,
                  patient_id=patient_id, journey_id=journey_id, currency=currency, at=at, charges=charges,
                  build=build or default)


def _issue(session: Session, *, invoice_id: str, kind: str, encounter_id: str, patient_id: str, journey_id: str,
           currency: str, at: datetime, charges: list[ChargeItem],
           build: Callable[[list[ChargeLine]], dict[str, Any]]) -> Invoice:
    if any(c.currency != currency for c in charges):
        raise BillingConflict("charges of the stay are in more than one currency")
    lines = lines_of(charges)
    invoice = Invoice(id=invoice_id, kind=kind, encounter_id=encounter_id, patient_id=patient_id,
                      journey_id=journey_id, status="issued", currency=currency, total=total_of(lines),
                      resource=build(lines), created_at=at)
    session.add(invoice)
    session.flush()
    ids = [c.id for c in charges]
    billed = session.scalars(sa.update(ChargeItem).where(
        ChargeItem.id.in_(ids), ChargeItem.invoice_id.is_(None), ChargeItem.reversed_at.is_(None))
        .values(invoice_id=invoice_id).returning(ChargeItem.id).execution_options(synchronize_session=False)).all()
    if len(billed) != len(ids):
        raise BillingConflict(f"a charge of invoice {invoice_id} was billed or reversed meanwhile")
    for c in charges:
        session.refresh(c)
    return invoice


def submit_claim(session: Session, *, claim_id: str, invoice: Invoice, payer: str, at: datetime,
                 build: Callable[[list[ChargeLine]], dict[str, Any]]) -> tuple[Claim, bool]:
    """The active claim of an invoice, built from exactly the invoice's charges; idempotent by invoice."""
    existing = active_claim(session, invoice.id)
    if existing is not None:
        return existing, False
    charges = list(session.scalars(sa.select(ChargeItem).where(ChargeItem.invoice_id == invoice.id)
                                   .order_by(ChargeItem.occurred_at, ChargeItem.id)))
    lines = lines_of(charges)
    if total_of(lines) != invoice.total:
        raise BillingConflict(f"invoice {invoice.id} total differs from its charges")
    # One active claim per invoice (a unique index): a concurrent duplicate is a no-op, not a second claim.
    inserted = session.execute(insert(Claim).values(
        id=claim_id, invoice_id=invoice.id, encounter_id=invoice.encounter_id, patient_id=invoice.patient_id,
        status="active", outcome="queued", payer=payer, currency=invoice.currency, total=invoice.total,
        resource=build(lines), created_at=at,
    ).on_conflict_do_nothing().returning(Claim.id)).scalar()
    claim = active_claim(session, invoice.id)
    if claim is None:
        raise BillingConflict(f"claim {claim_id} exists for another invoice")
    return claim, inserted is not None


def active_claim(session: Session, invoice_id: str) -> Claim | None:
    return session.scalar(sa.select(Claim).where(Claim.invoice_id == invoice_id, Claim.status == "active"))


def settle_claim(session: Session, *, claim_id: str, outcome: str, paid_amount: Decimal | None,
                 denial_reason: str | None, by: str, at: datetime) -> Claim:
    """Record once the claim's payment or denial, its withdrawal (``withdrawn``), or its withdrawal with its
    invoice's cancellation (``cancelled``); the same settlement again is a no-op, a different one a conflict."""
    claim = session.get(Claim, claim_id, with_for_update=True)
    if claim is None:
        raise BillingConflict(f"claim {claim_id} not found")
    if claim.outcome != "queued":
        if claim.outcome == outcome and claim.paid_amount == paid_amount:
            return claim
        raise BillingConflict(f"claim {claim_id} is already {claim.outcome}")
    invoice = session.get(Invoice, claim.invoice_id, with_for_update=True)
    assert invoice is not None
    if claim.status != "active" or invoice.status != "issued":
        raise BillingConflict(f"claim {claim_id} is {claim.status} and its invoice {invoice.status}")
    claim.outcome, claim.paid_amount, claim.denial_reason = outcome, paid_amount, denial_reason
    claim.settled_by, claim.settled_at = by, at
    if outcome in ("withdrawn", "cancelled"):
        claim.status = "cancelled"
        claim.resource = {**claim.resource, "status": "cancelled"}
    if outcome == "cancelled":
        set_invoice_status(invoice, "cancelled")
    if outcome == "paid":
        invoice.paid_amount = paid_amount
        if paid_amount == invoice.total:
            set_invoice_status(invoice, "balanced")
    return claim


def set_invoice_status(invoice: Invoice, status: str) -> None:
    invoice.status = status
    invoice.resource = {**invoice.resource, "status": status}


def get_invoice(session: Session, invoice_id: str) -> Invoice | None:
    return session.get(Invoice, invoice_id)


def get_claim(session: Session, claim_id: str) -> Claim | None:
    return session.get(Claim, claim_id)

"""Corrections to what is billed, recorded directly when no settlement task of the billing journey is open:
a charge entered in error, an invoice paid in full or cancelled, a claim withdrawn.

Each runs in its caller's transaction under row locks (and the stay's lock for a charge), checks the
state it changes and raises ``BillingConflict`` when that state has moved on, so a retry or a
concurrent second request changes nothing. Settling goes through ``billing_repo.settle_claim``,
the function the billing journey's settlement task uses, so both paths leave the same records.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from activities.storage.billing_repo import (
    BillingConflict,
    active_claim,
    lock_stay,
    set_invoice_status,
    settle_claim,
)
from activities.storage.models_billing import ChargeItem, Claim, Invoice

SETTLED = ("balanced", "cancelled")


def reverse_charge(session: Session, charge_id: str, *, by: str, at: datetime) -> ChargeItem | None:
    """Flag a charge entered in error (kept, never invoiced); None when there is no such charge.

    A charge already on an invoice is a conflict: cancel or settle that invoice instead."""
    charge = session.get(ChargeItem, charge_id)
    if charge is None:
        return None
    lock_stay(session, charge.encounter_id)
    session.refresh(charge, with_for_update=True)
    if charge.reversed_at is not None:
        return charge
    if charge.invoice_id is not None:
        raise BillingConflict(f"ChargeItem/{charge_id} is billed on Invoice/{charge.invoice_id}; a billed charge "
                              "is not reversed (cancel the invoice instead)")
    charge.reversed_at, charge.reversed_by = at, by
    session.flush()
    return charge


def settle_invoice(session: Session, invoice_id: str, status: str, *, by: str, at: datetime) -> Invoice:
    """``balanced`` (paid in full; its queued claim is recorded paid) or ``cancelled`` (its queued claim
    withdrawn with it). Refused once the invoice is settled, and cancelling once a payment was recorded."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise BillingConflict(f"Invoice/{invoice_id} not found")
    claim = active_claim(session, invoice_id)
    if claim is not None:  # rows locked claim first, then invoice, as settle_claim does (no deadlock)
        session.refresh(claim, with_for_update=True)
    session.refresh(invoice, with_for_update=True)
    if invoice.status in SETTLED:
        raise BillingConflict(f"Invoice/{invoice_id} is already {invoice.status}")
    queued = claim if claim is not None and claim.status == "active" and claim.outcome == "queued" else None
    if status == "balanced":
        if queued is not None:
            settle_claim(session, claim_id=queued.id, outcome="paid", paid_amount=invoice.total, denial_reason=None,
                         by=by, at=at)
        else:
            invoice.paid_amount = invoice.total
            set_invoice_status(invoice, "balanced")
    elif status == "cancelled":
        if invoice.paid_amount:
            raise BillingConflict(f"Invoice/{invoice_id} has a payment recorded ({invoice.paid_amount}); it is not "
                                  "cancelled")
        if queued is not None:
            settle_claim(session, claim_id=queued.id, outcome="cancelled", paid_amount=None, denial_reason=None,
                         by=by, at=at)
        else:
            set_invoice_status(invoice, "cancelled")
    else:
        raise ValueError(f"an invoice is settled as balanced or cancelled, not {status}")
    session.flush()
    return invoice


def withdraw_claim(session: Session, claim_id: str, *, by: str, at: datetime) -> Claim:
    """Withdraw a claim the payer has not adjudicated (status ``cancelled``, outcome ``withdrawn``)."""
    claim = session.get(Claim, claim_id, with_for_update=True)
    if claim is None:
        raise BillingConflict(f"Claim/{claim_id} not found")
    if claim.status != "active":
        raise BillingConflict(f"Claim/{claim_id} is already {claim.status}")
    if claim.outcome != "queued":
        raise BillingConflict(f"Claim/{claim_id} was adjudicated ({claim.outcome}); it cannot be withdrawn")
    settle_claim(session, claim_id=claim_id, outcome="withdrawn", paid_amount=None, denial_reason=None, by=by, at=at)
    session.flush()
    return claim

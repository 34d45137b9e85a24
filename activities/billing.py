"""Billing activities: charges from every stage, bed-days, invoice, claim and settlement.

Each write is idempotent (charges by idempotency key, the stay invoice by encounter,
the claim by invoice) and commits before its ledger entry, whose id derives from
the activity, so a retry adds neither a charge nor an audit entry. A charge recorded
after the stay invoice goes on a supplementary invoice with its claim in the same
transaction (``billing_repo``), and both are on the ledger with the charge.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import worker_event
from activities.billing_fhir import build_claim, build_invoice
from activities.billing_tariff import Tariff, UnknownTariffCode, bed_day_code, bed_days, load_tariff
from activities.storage import billing_repo as repo
from ledger.base import Ledger
from ledger.model import AuditEvent
from workflows.billing_contracts import (
    BedDaysInput,
    ChargeInput,
    ChargeResult,
    ClaimInput,
    ClaimResult,
    InvoiceInput,
    InvoiceResult,
    SettlementInput,
)
from workflows.contracts import AuditContext

#: Business refusals of billing; workflows list them as non-retryable.
BILLING_ERRORS = ["UnknownTariffCode", "BillingConflict", "EncounterNotFound", "InvalidCharge"]


def audit_event(ctx: AuditContext, **kw: str | None) -> AuditEvent:
    """``worker_event`` stamped with when the activity was first scheduled, not the attempt's clock:
    a retry after the append re-sends identical content (same id), which the ledger accepts as a no-op."""
    return dataclasses.replace(worker_event(ctx, **kw), recorded=activity.info().scheduled_time)  # type: ignore[arg-type]


class BillingActivities:
    """Side effects of billing a stay; ``tariff`` defaults to the one shipped in the project."""

    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger, tariff: Tariff | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._tariff = tariff or load_tariff()

    @activity.defn(name="record_charge")
    def record_charge(self, inp: ChargeInput) -> ChargeResult:
        """Price one billable event from the tariff and store it once under its idempotency key."""
        if not inp.idempotency_key or len(inp.idempotency_key) > 200:
            raise ApplicationError("idempotency_key: 1 to 200 characters", type="InvalidCharge", non_retryable=True)
        if inp.quantity < 1:
            raise ApplicationError("quantity: must be at least 1", type="InvalidCharge", non_retryable=True)
        try:
            with self._sessions() as s, s.begin():
                charge, created = repo.record_charge(
                    s, self._tariff, key=inp.idempotency_key, encounter_id=inp.encounter_id,
                    patient_id=inp.patient_id, journey_id=inp.audit.journey_id, code=inp.code,
                    quantity=inp.quantity, source=inp.source, source_id=inp.source_id,
                    occurred_at=inp.occurred_at or datetime.now(UTC))
                result = ChargeResult(charge_id=charge.id, code=charge.code, quantity=charge.quantity,
                                      amount=charge.amount, currency=charge.currency, created=created)
                late = charge.invoice_id == repo.late_invoice_id(charge.id)
        except UnknownTariffCode as exc:
            raise ApplicationError(f"code: {inp.code!r} is not in the tariff", type="UnknownTariffCode",
                                   non_retryable=True) from exc
        except repo.BillingConflict as exc:
            raise ApplicationError(str(exc), type="BillingConflict", non_retryable=True) from exc
        self._ledger.append(audit_event(inp.audit, subtype="charge.record", action="C",
                                         resource_type="ChargeItem", resource_id=result.charge_id,
                                         patient_id=inp.patient_id))
        if late:  # recorded after the stay invoice: it opened a supplementary invoice and its claim
            for subtype, rtype, rid in (("invoice.issue", "Invoice", repo.late_invoice_id(result.charge_id)),
                                        ("claim.submit", "Claim", f"claim-{result.charge_id}")):
                self._ledger.append(audit_event(inp.audit, subtype=subtype, action="C", resource_type=rtype,
                                                 resource_id=rid, patient_id=inp.patient_id))
        return result

    @activity.defn(name="charge_bed_days")
    def charge_bed_days(self, inp: BedDaysInput) -> ChargeResult:
        """Charge the stay's bed-days from the encounter's admitted and ended times (one charge per stay)."""
        with self._sessions() as s:
            enc = repo.encounter(s, inp.encounter_id)
            if enc is None:
                raise ApplicationError(f"encounter {inp.encounter_id} not found", type="EncounterNotFound",
                                       non_retryable=True)
            start = enc.admitted_at or enc.created_at
            end = enc.ended_at or inp.as_of
            ward = enc.ward_id
        days = bed_days((end - start).total_seconds())
        return self.record_charge(ChargeInput(
            audit=inp.audit, idempotency_key=f"bed-days:{inp.encounter_id}", encounter_id=inp.encounter_id,
            patient_id=inp.patient_id, code=bed_day_code(ward), quantity=days, source="bed-days",
            source_id=inp.encounter_id, occurred_at=end))

    @activity.defn(name="issue_invoice")
    def issue_invoice(self, inp: InvoiceInput) -> InvoiceResult:
        """The stay's Invoice (FHIR R4, stored) over its charges, issued once."""
        currency = self._tariff.currency
        try:
            with self._sessions() as s, s.begin():
                invoice, _ = repo.issue_invoice(
                    s, invoice_id=inp.invoice_id, encounter_id=inp.encounter_id, patient_id=inp.patient_id,
                    journey_id=inp.audit.journey_id, currency=currency, at=inp.at,
                    build=lambda lines: build_invoice(inp.invoice_id, inp.patient_id, inp.encounter_id, inp.at,
                                                      lines, currency))
                count = len(invoice.resource.get("lineItem", []))
                result = InvoiceResult(invoice_id=invoice.id, total=invoice.total, currency=invoice.currency,
                                       charge_count=count)
        except repo.BillingConflict as exc:
            raise ApplicationError(str(exc), type="BillingConflict", non_retryable=True) from exc
        self._ledger.append(audit_event(inp.audit, subtype="invoice.issue", action="C", resource_type="Invoice",
                                         resource_id=result.invoice_id, patient_id=inp.patient_id))
        return result

    @activity.defn(name="submit_claim")
    def submit_claim(self, inp: ClaimInput) -> ClaimResult:
        """The insurance Claim (FHIR R4, stored) of an invoice, with exactly the invoice's lines and total."""
        try:
            with self._sessions() as s, s.begin():
                invoice = repo.get_invoice(s, inp.invoice_id)
                if invoice is None:
                    raise repo.BillingConflict(f"invoice {inp.invoice_id} not found")
                claim, _ = repo.submit_claim(
                    s, claim_id=inp.claim_id, invoice=invoice, payer=inp.payer, at=inp.at,
                    build=lambda lines: build_claim(inp.claim_id, inp.patient_id, invoice.id, inp.at, lines,
                                                    invoice.currency, inp.payer))
                result = ClaimResult(claim_id=claim.id, total=claim.total, currency=claim.currency)
        except repo.BillingConflict as exc:
            raise ApplicationError(str(exc), type="BillingConflict", non_retryable=True) from exc
        self._ledger.append(audit_event(inp.audit, subtype="claim.submit", action="C", resource_type="Claim",
                                         resource_id=result.claim_id, patient_id=inp.patient_id))
        return result

    @activity.defn(name="record_settlement")
    def record_settlement(self, inp: SettlementInput) -> ClaimResult:
        """Payment or denial of the claim, recorded once."""
        try:
            with self._sessions() as s, s.begin():
                claim = repo.settle_claim(s, claim_id=inp.claim_id, outcome=inp.outcome,
                                          paid_amount=inp.paid_amount, denial_reason=inp.denial_reason,
                                          by=inp.settled_by, at=inp.at)
                result = ClaimResult(claim_id=claim.id, total=claim.total, currency=claim.currency)
        except repo.BillingConflict as exc:
            raise ApplicationError(str(exc), type="BillingConflict", non_retryable=True) from exc
        self._ledger.append(audit_event(inp.audit, subtype=f"claim.{inp.outcome}", action="U",
                                         resource_type="Claim", resource_id=inp.claim_id,
                                         patient_id=inp.patient_id))
        return result

    def all(self) -> list[Callable[..., object]]:
        return [self.record_charge, self.charge_bed_days, self.issue_invoice, self.submit_claim,
                self.record_settlement]

"""BillingWorkflow: at discharge, bed-days → Invoice → Claim → a billing clerk records payment or denial.

Every charge is idempotent by key and the invoice and claim are computed inside
the database from the stored charges, so their totals equal the charges exactly
however often an activity is retried, a worker restarts or the history replays.
Stages bill as they go by calling ``record_charge`` with ``BILLING_ACTIVITY``; a charge
recorded after this stay invoice goes on a supplementary invoice (``billing_repo``).

The settlement task also takes the claim's withdrawal (``withdrawn``) or the invoice's
cancellation with its claim (``cancelled``): the FHIR Invoice and Claim updates send those,
and payment in full, here while the task is open, so one path records every settlement.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.billing import BILLING_ERRORS, BillingActivities
    from workflows.billing_contracts import (
        BedDaysInput,
        BillingInput,
        BillingResult,
        ClaimInput,
        InvoiceInput,
        SettlementInput,
    )
    from workflows.contracts import AuditContext, TaskCompletion, TaskCompletionResult
    from workflows.options import STORAGE_RETRY
    from workflows.task_book import TaskBook, invalid, only_fields

#: Options for every billing activity (``record_charge`` included): storage retries, business refusals final.
BILLING_ACTIVITY: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=STORAGE_RETRY.initial_interval, backoff_coefficient=STORAGE_RETRY.backoff_coefficient,
        maximum_interval=STORAGE_RETRY.maximum_interval,
        non_retryable_error_types=[*(STORAGE_RETRY.non_retryable_error_types or []), *BILLING_ERRORS]),
}
SETTLEMENT = "billing-settlement"
CENTS = Decimal("0.01")


@workflow.defn(name="BillingWorkflow")
class BillingWorkflow:
    def __init__(self) -> None:
        self._inp: BillingInput | None = None
        self._book = TaskBook()
        self._total: Decimal | None = None
        self._outcome: dict[str, Any] | None = None
        self._claim_id: str | None = None

    @workflow.run
    async def run(self, inp: BillingInput) -> BillingResult:
        self._inp = inp
        ctx = AuditContext(journey_id=inp.journey_id, requested_by=inp.requested_by, purpose="HPAYMT")
        await workflow.execute_activity_method(
            BillingActivities.charge_bed_days,
            BedDaysInput(audit=ctx, encounter_id=inp.encounter_id, patient_id=inp.patient_id, as_of=workflow.now()),
            **BILLING_ACTIVITY)
        invoice = await workflow.execute_activity_method(
            BillingActivities.issue_invoice,
            InvoiceInput(audit=ctx, invoice_id=f"invoice-{inp.encounter_id}", encounter_id=inp.encounter_id,
                         patient_id=inp.patient_id, at=workflow.now()), **BILLING_ACTIVITY)
        claim = await workflow.execute_activity_method(
            BillingActivities.submit_claim,
            ClaimInput(audit=ctx, claim_id=f"claim-{inp.encounter_id}", invoice_id=invoice.invoice_id,
                       patient_id=inp.patient_id, at=workflow.now(), payer=inp.payer), **BILLING_ACTIVITY)
        self._total, self._claim_id = claim.total, claim.claim_id
        await self._book.open(
            task_id=f"{SETTLEMENT}-{inp.encounter_id}", type=SETTLEMENT, role="billing_clerk",
            patient_id=inp.patient_id, journey_id=inp.journey_id, encounter_id=inp.encounter_id, ward=None,
            due_minutes=inp.settlement_due_hours * 60,
            details={"invoice_id": invoice.invoice_id, "claim_id": claim.claim_id, "total": str(claim.total),
                     "currency": claim.currency})
        await workflow.wait_condition(lambda: self._outcome is not None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        outcome = self._outcome or {}
        return BillingResult(invoice_id=invoice.invoice_id, claim_id=claim.claim_id, total=claim.total,
                             currency=claim.currency, outcome=outcome["outcome"],
                             paid_amount=outcome.get("paid_amount"))

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """Record the claim's payment (amount), denial (reason), withdrawal, or the invoice's cancellation — once."""
        task = self._book.claim(done)
        inp = self._require_input()
        paid = _amount(done.payload["paid_amount"]) if done.payload["outcome"] == "paid" else None
        reason = done.payload.get("denial_reason") if paid is None else None
        await workflow.execute_activity_method(
            BillingActivities.record_settlement,
            SettlementInput(audit=AuditContext(journey_id=inp.journey_id, requested_by=done.actor, purpose="HPAYMT"),
                            claim_id=task.details["claim_id"], patient_id=inp.patient_id,
                            outcome=done.payload["outcome"], settled_by=done.actor, at=workflow.now(),
                            paid_amount=paid, denial_reason=reason), **BILLING_ACTIVITY)
        self._outcome = {"outcome": done.payload["outcome"], "paid_amount": paid}
        await self._book.complete(task, done.actor)
        result = {"outcome": done.payload["outcome"], "claim_id": task.details["claim_id"],
                  "total": str(self._total)}
        if paid is not None:
            result["paid_amount"] = str(paid)
        return TaskCompletionResult(task_id=task.id, status="completed", result=result)

    @complete_task.validator
    def _validate(self, done: TaskCompletion) -> None:
        self._book.require_open(done)
        p = done.payload
        outcome = p.get("outcome")
        if outcome == "paid":
            only_fields(p, {"outcome", "paid_amount", "reference"})
            amount = _amount(p.get("paid_amount"))
            if amount is None or amount <= 0:
                raise invalid("payload.paid_amount: a positive amount with at most two decimals")
            if self._total is not None and amount > self._total:
                raise invalid(f"payload.paid_amount: exceeds the claim total {self._total}")
        elif outcome == "denied":
            only_fields(p, {"outcome", "denial_reason", "reference"})
            reason = p.get("denial_reason")
            if not isinstance(reason, str) or not reason.strip() or len(reason) > 200:
                raise invalid("payload.denial_reason: a denial reason code or phrase (1 to 200 characters)")
        elif outcome in ("withdrawn", "cancelled"):
            only_fields(p, {"outcome", "reference"})
        else:
            raise invalid("payload.outcome: must be 'paid', 'denied', 'withdrawn' (the claim) or 'cancelled' "
                          "(the invoice and its claim)")
        ref = p.get("reference")
        if ref is not None and (not isinstance(ref, str) or len(ref) > 80):
            raise invalid("payload.reference: a payment or remittance reference up to 80 characters")

    @workflow.query
    def open_tasks(self) -> list[str]:
        return self._book.open_ids()

    def _require_input(self) -> BillingInput:
        if self._inp is None:
            raise ApplicationError("billing has not started", type="NotStarted")
        return self._inp


def _amount(value: Any) -> Decimal | None:
    """A money amount from JSON (string or number); None unless exact to the cent."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount != amount.quantize(CENTS):
        return None
    return amount.quantize(CENTS)

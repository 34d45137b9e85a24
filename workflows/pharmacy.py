"""PharmacyWorkflow: a medication order from prescription to the last dose (journey stage ``pharmacy``).

order → allergy/interaction check → pharmacist verification (task) → dispense (stock
taken once; a shortage opens a task) → one nurse administration task per scheduled
dose (durable timers) → a dose not recorded by its due time plus grace escalates to
the attending. Cancelling (the ``cancel_order`` update, or the journey cancelling the
stage at discharge) stops future doses and returns unused stock exactly once.

Billing: the dispense is charged once (``dispense:<order id>``, ``RX-DISPENSE`` per unit taken
from stock) right after the stock movement. Units returned on cancellation are not credited: the
billing store holds positive charges only (a tariff price and a quantity of at least one, no credit
notes), so the bill shows what left the pharmacy; ``returned_units`` and the ``return`` stock
movement record what came back, for a credit note once billing has one.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from activities.billing import BillingActivities
    from activities.pharmacy import PharmacyActivities
    from workflows import search_attributes as sa
    from workflows.billing import BILLING_ACTIVITY
    from workflows.billing_contracts import ChargeInput
    from workflows.contracts import AuditContext, TaskCompletion, TaskCompletionResult, TaskRecord
    from workflows.options import STORAGE, STORAGE_RETRY
    from workflows.pharmacy_contracts import (
        DOSE,
        MISSED,
        STOCK,
        VERIFY,
        AdministrationInput,
        CancelOrder,
        CheckInput,
        CloseOrderInput,
        DispenseInput,
        DispenseResult,
        OrderRecord,
        OrderStatusInput,
        PharmacyInput,
        PharmacyResult,
        PharmacyState,
        dose_times,
        parse_order,
        requires_override,
        validate_payload,
    )
    from workflows.stages import JourneyContext, StageInputError, StageRequest, StageSpec

ACT: dict[str, Any] = {**STORAGE, "retry_policy": RetryPolicy(
    initial_interval=STORAGE_RETRY.initial_interval, backoff_coefficient=STORAGE_RETRY.backoff_coefficient,
    maximum_interval=STORAGE_RETRY.maximum_interval,
    non_retryable_error_types=[*(STORAGE_RETRY.non_retryable_error_types or []), "UnknownDrug",
                               "InsufficientStock", "OrderClosed"])}
SYSTEM = "hms-worker"
#: Patch of the dispense charge: courses dispensed before it replay without one.
DISPENSE_CHARGE_PATCH = "pharmacy-dispense-charge"
DISPENSE_CODE = "RX-DISPENSE"
#: Patch that lets a cancellation during the dispense compensate (it used to fail the course).
DISPENSE_CANCEL_PATCH = "pharmacy-dispense-cancel"
#: Patch that lets a cancellation while any activity of the course runs (e.g. the order being
#: created or checked in its first seconds) compensate too: it used to end the stage without closing it.
ACTIVITY_CANCEL_PATCH = "pharmacy-activity-cancel"


@workflow.defn(name="PharmacyWorkflow")
class PharmacyWorkflow:
    def __init__(self) -> None:
        self._inp: PharmacyInput | None = None
        self._state: PharmacyState | None = None
        self._tasks: dict[str, TaskRecord] = {}
        self._verdict: tuple[bool, str, str | None] | None = None
        self._cancel: CancelOrder | None = None
        self._dispensed: DispenseResult | None = None
        self._dispensed_at: datetime | None = None
        self._charged = False
        self._units_per_dose = 1
        self._finished = False
        #: eMAR writes still in flight in update handlers; stock is reconciled only after them.
        self._recording = 0

    @workflow.run
    async def run(self, inp: PharmacyInput) -> PharmacyResult:
        self._inp = inp
        self._state = PharmacyState(order_id=inp.order_id, status="pending-verification")
        try:
            result = await self._course()
        except asyncio.CancelledError:
            # The journey cancels running stages at discharge: compensate, then end as cancelled.
            await self._compensate(inp)
            raise
        except ActivityError as err:
            # A cancellation that reached a running activity surfaces as that activity's error.
            if not (is_cancelled_exception(err) and workflow.patched(ACTIVITY_CANCEL_PATCH)):
                raise
            await self._compensate(inp)
            raise asyncio.CancelledError from err
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _compensate(self, inp: PharmacyInput) -> None:
        self._cancel = self._cancel or CancelOrder(requested_by=inp.requested_by, reason="stage cancelled")
        await self._finish("cancelled", "stage cancelled")

    async def _course(self) -> PharmacyResult:
        inp, state = self._require()
        ctx = self._ctx(inp.requested_by)
        await workflow.execute_activity_method(PharmacyActivities.create_order, OrderRecord(
            audit=ctx, order_id=inp.order_id, patient_id=inp.patient_id, encounter_id=inp.encounter_id,
            journey_id=inp.journey_id, order=inp.order), **ACT)
        check = await workflow.execute_activity_method(PharmacyActivities.check_order, CheckInput(
            audit=ctx, order_id=inp.order_id, patient_id=inp.patient_id, drug_code=inp.order.drug_code,
            dose=inp.order.dose), **ACT)
        state.hits, self._units_per_dose = check.hits, check.units_per_dose
        await self._verify()
        if self._cancel is not None:
            return await self._finish("cancelled", self._cancel.reason)
        approved, by, reason = self._verdict or (False, SYSTEM, None)
        await workflow.execute_activity_method(PharmacyActivities.set_order_status, OrderStatusInput(
            audit=self._ctx(by), order_id=inp.order_id, patient_id=inp.patient_id,
            status="verified" if approved else "rejected", by=by, reason=reason), **ACT)
        if not approved:
            return await self._finish("rejected", reason)
        if await self._dispense() is None:
            return await self._finish("cancelled", self._cancel.reason if self._cancel else None)
        await self._administer()
        if self._cancel is not None:
            return await self._finish("cancelled", self._cancel.reason)
        return await self._finish("completed", None)

    async def _verify(self) -> None:
        inp, state = self._require()
        o = inp.order
        task = self._task(f"{VERIFY}-{inp.order_id}", VERIFY, "pharmacist", timedelta(minutes=inp.verify_due_minutes),
                          {"order_id": inp.order_id, "drug_code": o.drug_code, "dose": o.dose, "unit": o.unit,
                           "route": o.route, "frequency_hours": o.frequency_hours, "doses": o.doses,
                           "hits": state.hits, "requires_override": requires_override(state.hits)})
        await self._open(task)
        await workflow.wait_condition(lambda: task.status != "open" or self._cancel is not None)

    async def _dispense(self) -> DispenseResult | None:
        inp, state = self._require()
        quantity = self._units_per_dose * inp.order.doses
        try:
            self._dispensed = await self._dispense_once(self._ctx(inp.requested_by))
        except ApplicationError as err:
            if err.type != "InsufficientStock":
                raise
            details = err.details[0] if err.details and isinstance(err.details[0], dict) else {}
            await self._open(self._task(f"{STOCK}-{inp.order_id}", STOCK, "pharmacist", timedelta(minutes=30),
                                        {"order_id": inp.order_id, "drug_code": inp.order.drug_code,
                                         "needed": quantity, "on_hand": details.get("on_hand")}))
            await workflow.wait_condition(lambda: self._dispensed is not None or self._cancel is not None)
        if self._dispensed is None:
            return None
        state.dispensed_units, state.status = self._dispensed.quantity, "dispensed"
        self._dispensed_at = workflow.now()
        await self._charge_dispense(self._dispensed)
        return self._dispensed

    async def _dispense_once(self, ctx: AuditContext) -> DispenseResult:
        inp, _ = self._require()
        try:
            return await workflow.execute_activity_method(PharmacyActivities.dispense, DispenseInput(
                audit=ctx, order_id=inp.order_id, patient_id=inp.patient_id, drug_code=inp.order.drug_code,
                quantity=self._units_per_dose * inp.order.doses, idempotency_key=f"dispense-{inp.order_id}"), **ACT)
        except ActivityError as err:
            if isinstance(err.cause, ApplicationError):
                raise err.cause from None
            if is_cancelled_exception(err) and workflow.patched(DISPENSE_CANCEL_PATCH):
                # Cancelled while taking stock: compensate (close_order returns whatever was taken).
                raise asyncio.CancelledError from err
            raise

    async def _charge_dispense(self, dispensed: DispenseResult) -> None:
        """Charge the dispense once: ``RX-DISPENSE`` × the units taken from stock, under its charge key.

        A refused charge (a business error, final) is logged and the course goes on: billing never
        holds up doses. A cancellation while charging is re-raised; ``_finish`` then charges again
        under the same key (one row however often it is delivered).
        """
        inp, _ = self._require()
        if self._charged or not workflow.patched(DISPENSE_CHARGE_PATCH):
            return
        try:
            await workflow.execute_activity_method(BillingActivities.record_charge, ChargeInput(
                audit=AuditContext(journey_id=inp.journey_id, requested_by=inp.requested_by, purpose="HPAYMT"),
                idempotency_key=dispensed.charge_key or f"dispense:{inp.order_id}", encounter_id=inp.encounter_id,
                patient_id=inp.patient_id, code=DISPENSE_CODE, quantity=dispensed.quantity, source="pharmacy",
                source_id=dispensed.order_id, occurred_at=self._dispensed_at or workflow.now()), **BILLING_ACTIVITY)
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise asyncio.CancelledError from err
            workflow.logger.warning("dispense charge refused for order %s; the dispense is unbilled", inp.order_id)
        self._charged = True

    async def _administer(self) -> None:
        inp, state = self._require()
        first = workflow.now() + timedelta(minutes=inp.first_dose_delay_minutes)
        await workflow.execute_activity_method(PharmacyActivities.set_order_status, OrderStatusInput(
            audit=self._ctx(inp.requested_by), order_id=inp.order_id, patient_id=inp.patient_id, status="active",
            first_dose_at=first), **ACT)
        state.status = "active"
        freq = inp.order.frequency_hours
        grace = timedelta(minutes=min(inp.grace_minutes, freq * 30))
        times = dose_times(first, freq, inp.order.doses)
        for n, due in enumerate(times, start=1):
            if not await self._until(due):
                return
            await self._mark_missed()
            o = inp.order
            task = self._task(f"{DOSE}-{inp.order_id}-{n}", DOSE, "nurse", due - workflow.now(),
                              {"order_id": inp.order_id, "dose_number": n, "doses": o.doses, "drug_code": o.drug_code,
                               "dose": o.dose, "unit": o.unit, "route": o.route})
            await self._open(task)
            state.doses_opened = n
            if not await self._until(due + grace, lambda t=task: t.status != "open"):
                return
            if task.status == "open":
                await self._escalate(task, n, due)
        # The last dose may still be recorded late, until one interval after it was due.
        await self._until(times[-1] + timedelta(hours=freq), lambda: not self._open_of(DOSE))
        await self._mark_missed()

    async def _until(self, when: datetime, done: Callable[[], bool] | None = None) -> bool:
        """Wait durably until ``when`` (or ``done``); False once the order is cancelled."""
        remaining = when - workflow.now()
        if remaining > timedelta(0) and self._cancel is None:
            try:
                await workflow.wait_condition(lambda: self._cancel is not None or (done is not None and done()),
                                              timeout=remaining)
            except TimeoutError:
                pass
        return self._cancel is None

    async def _escalate(self, task: TaskRecord, n: int, due: datetime) -> None:
        inp, state = self._require()
        state.escalations += 1
        await self._open(self._task(f"{MISSED}-{inp.order_id}-{n}", MISSED, "attending_physician",
                                    timedelta(minutes=30),
                                    {"order_id": inp.order_id, "dose_number": n, "drug_code": inp.order.drug_code,
                                     "due": due.isoformat(), "dose_task_id": task.id}))

    async def _mark_missed(self) -> None:
        inp, _ = self._require()
        for task in self._open_of(DOSE):
            self._mark(task, "missed", SYSTEM)
            await self._record_dose(task, "missed", SYSTEM, None)
            await self._sync(task)

    async def _record_dose(self, task: TaskRecord, status: str, by: str, reason: str | None) -> None:
        inp, _ = self._require()
        await workflow.execute_activity_method(PharmacyActivities.record_administration, AdministrationInput(
            audit=self._ctx(by), administration_id=task.id, order_id=inp.order_id, patient_id=inp.patient_id,
            dose_number=int(task.details["dose_number"]), due=task.due or task.created_at, status=status,
            recorded_by=by, at=workflow.now(), reason=reason), **ACT)

    async def _finish(self, status: str, reason: str | None) -> PharmacyResult:
        inp, state = self._require()
        if self._dispensed is not None:  # a charge cut short by cancellation is delivered again (same key)
            await self._charge_dispense(self._dispensed)
        for task in [t for t in self._tasks.values() if t.status == "open"]:
            self._mark(task, "cancelled", None)
            await self._sync(task)
        await workflow.wait_condition(lambda: self._recording == 0)
        closed = await workflow.execute_activity_method(PharmacyActivities.close_order, CloseOrderInput(
            audit=self._ctx(self._cancel.requested_by if self._cancel else inp.requested_by), order_id=inp.order_id,
            patient_id=inp.patient_id, status=status, idempotency_key=f"return-{inp.order_id}",
            reason=reason), **ACT)
        state.status, state.returned_units = status, closed.returned_units
        self._finished = True
        return PharmacyResult(order_id=inp.order_id, status=status, hits=state.hits,
                              dispensed_units=state.dispensed_units, returned_units=closed.returned_units,
                              doses_given=state.doses_given, doses_not_given=inp.order.doses - state.doses_given,
                              escalations=state.escalations, reason=reason)

    # --- human work -------------------------------------------------------------------------------

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """Verification, stock shortage, dose administration (eMAR) or missed-dose review."""
        inp, state = self._require()
        task, p = self._tasks[done.task_id], done.payload
        result: dict[str, Any] = {"order_id": inp.order_id}
        if task.type == VERIFY:
            approve = p["decision"] == "approve"
            self._verdict = (approve, done.actor, p.get("override_reason") if approve else p.get("reason"))
            self._mark(task, "completed", done.actor)
            result["decision"] = p["decision"]
        elif task.type == STOCK:
            if p["action"] == "cancel":
                self._cancel = self._cancel or CancelOrder(requested_by=done.actor, reason=p["reason"])
            else:
                self._dispensed = await self._dispense_once(self._ctx(done.actor))
                result["dispensed_units"] = self._dispensed.quantity
            self._mark(task, "completed", done.actor)
            result["action"] = p["action"]
        elif task.type == DOSE:
            self._mark(task, "completed", done.actor)
            if p["status"] == "given":
                state.doses_given += 1
            self._recording += 1
            try:
                await self._record_dose(task, p["status"], done.actor, p.get("reason"))
            finally:
                self._recording -= 1
            result.update(status=p["status"], dose_number=task.details["dose_number"])
        else:
            if p["decision"] == "cancel-order":
                self._cancel = self._cancel or CancelOrder(requested_by=done.actor, reason=p["reason"])
            self._mark(task, "completed", done.actor)
            result["decision"] = p["decision"]
        await self._sync(task)
        return TaskCompletionResult(task_id=task.id, status="completed", result=result)

    @complete_task.validator
    def _validate_completion(self, done: TaskCompletion) -> None:
        task = self._tasks.get(done.task_id)
        if task is None:
            raise ApplicationError(f"task {done.task_id} is not part of this order", type="TaskNotFound")
        if task.status != "open":
            raise ApplicationError(f"task {done.task_id} is already {task.status}", type="TaskNotOpen")
        if done.role != task.role:
            raise ApplicationError(f"task {done.task_id} is for the {task.role} role", type="WrongRole")
        validate_payload(task.type, done.payload, bool(task.details.get("requires_override")))

    @workflow.update
    async def cancel_order(self, request: CancelOrder) -> PharmacyState:
        """Stop the course: no further doses, open tasks closed, unused stock returned (once)."""
        self._cancel = self._cancel or request
        await workflow.wait_condition(lambda: self._finished)
        return self._require()[1]

    @cancel_order.validator
    def _validate_cancel(self, request: CancelOrder) -> None:
        if self._finished or self._cancel is not None:
            status = self._state.status if self._state else "unknown"
            raise ApplicationError(f"the order is already {'cancelling' if not self._finished else status}",
                                   type="OrderClosed")
        if not request.reason.strip() or len(request.reason) > 500:
            raise ApplicationError("reason: 1 to 500 characters are required", type="InvalidTaskPayload")

    @workflow.query
    def order_state(self) -> PharmacyState:
        return self._require()[1]

    # --- helpers ----------------------------------------------------------------------------------

    def _task(self, task_id: str, ttype: str, role: str, due_in: timedelta, details: dict[str, Any]) -> TaskRecord:
        inp, _ = self._require()
        now = workflow.now()
        return TaskRecord(id=task_id, type=ttype, role=role, patient_id=inp.patient_id, journey_id=inp.journey_id,
                          workflow_id=workflow.info().workflow_id, created_at=now, ward=inp.ward,
                          encounter_id=inp.encounter_id, due=now + max(due_in, timedelta(0)), details=details)

    async def _open(self, task: TaskRecord) -> None:
        self._tasks[task.id] = task
        await self._sync(task)

    def _mark(self, task: TaskRecord, status: str, by: str | None) -> None:
        """Close a task in memory at once, so a concurrent completion or timer sees it closed."""
        task.status, task.completed_by, task.completed_at = status, by, workflow.now()

    async def _sync(self, task: TaskRecord) -> None:
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **ACT)
        roles = sorted({t.role for t in self._tasks.values() if t.status == "open"})
        workflow.upsert_search_attributes([sa.OPEN_TASK_ROLES.value_set(roles)])

    def _open_of(self, ttype: str) -> list[TaskRecord]:
        return [t for t in self._tasks.values() if t.type == ttype and t.status == "open"]

    def _ctx(self, by: str) -> AuditContext:
        return AuditContext(journey_id=self._require()[0].journey_id, requested_by=by)

    def _require(self) -> tuple[PharmacyInput, PharmacyState]:
        if self._inp is None or self._state is None:
            raise ApplicationError("the order has not started", type="NotStarted")
        return self._inp, self._state


def build_pharmacy_input(ctx: JourneyContext, request: StageRequest) -> PharmacyInput:
    """The child's input from the journey and the order payload; ``StageInputError`` names a bad field."""
    if len(request.stage_id) > 60:
        raise StageInputError("stage_id: at most 60 characters for a medication order")
    order = parse_order(request.payload)
    delay = request.payload.get("first_dose_delay_minutes", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 1440:
        raise StageInputError("payload.first_dose_delay_minutes: a whole number from 0 to 1440")
    return PharmacyInput(order_id=request.stage_id, journey_id=ctx.journey_id, patient_id=ctx.patient_id,
                         encounter_id=ctx.encounter_id, ward=ctx.ward, requested_by=request.requested_by,
                         order=order, attending=ctx.attending, care_team_id=ctx.care_team_id,
                         first_dose_delay_minutes=delay)


def summarize_pharmacy(result: Any) -> dict[str, Any]:
    """Codes and counts for the journey state (the child's result arrives as a dict)."""
    r = result if isinstance(result, dict) else vars(result)
    return {k: r.get(k) for k in ("order_id", "status", "doses_given", "doses_not_given", "returned_units",
                                  "escalations")}


PHARMACY_STAGE = StageSpec(workflow_type="PharmacyWorkflow", build_input=build_pharmacy_input,
                           summarize=summarize_pharmacy)

"""DischargeWorkflow: the attending's discharge checklist, the bed hand-over, the end of the stay.

Checklist: no pending critical results (re-checked whenever the journey sends its
stages), medication reconciliation and follow-up (attending tasks), the discharge
summary (a FHIR Composition). Then the bed goes to cleaning (a nurse task on the
ward; completing it frees the bed), admissions waiting for a bed on that ward are
woken (their ``bed_available`` signal, so they need not sit out their retry
interval), and the encounter is finished.

The journey starts it as a child (``PatientJourney.start_discharge``) and sends it
its stages whenever one ends; a discharge started outside a journey can still
signal the journey and start billing itself (``DischargeInput``'s flags).
"""
from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from activities.discharge import DischargeActivities
    from activities.discharge_fhir import active_medication_orders
    from workflows.billing import BillingWorkflow
    from workflows.billing_contracts import BillingInput
    from workflows.contracts import (
        AuditContext,
        DischargeRequest,
        EncounterStatusInput,
        TaskCompletion,
        TaskCompletionResult,
    )
    from workflows.discharge_contracts import (
        BedHandoverInput,
        DischargeInput,
        DischargeProgress,
        DischargeResult,
        PendingResultsInput,
        StagesUpdate,
        SummaryInput,
        WaitingAdmissionsInput,
    )
    from workflows.options import STORAGE
    from workflows.stages import StageStatus  # imported directly so the sandbox resolves the contracts' types
    from workflows.task_book import TaskBook, invalid, only_fields

MED_REC = "medication-reconciliation"
FOLLOW_UP = "follow-up"
CLEANING = "bed-cleaning"
CLINIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,79}$")
#: Patch: a bed freed by cleaning wakes the admissions waiting on its ward.
WAKE_ADMISSIONS = "discharge-wakes-admissions"


async def wake_waiting_admissions(ward: str, freed_by: str) -> list[str]:
    """Signal ``bed_available`` to the admissions waiting for a bed on ``ward``; returns those reached.

    Each woken admission tries for a bed at once; one that has meanwhile got a bed or ended is skipped.
    """
    found = await workflow.execute_activity_method(
        DischargeActivities.waiting_admissions, WaitingAdmissionsInput(ward=ward, freed_by_encounter_id=freed_by),
        **STORAGE)
    reached = await asyncio.gather(*(_nudge(enc) for enc in found.encounter_ids))
    return [enc for enc, ok in zip(found.encounter_ids, reached, strict=True) if ok]


async def _nudge(encounter_id: str) -> bool:
    try:
        await workflow.get_external_workflow_handle(f"admission-{encounter_id}").signal("bed_available")
    except FailureError:  # not found, or it ended meanwhile: nobody to wake
        return False
    return True


@workflow.defn(name="DischargeWorkflow")
class DischargeWorkflow:
    def __init__(self) -> None:
        self._inp: DischargeInput | None = None
        self._book = TaskBook()
        self._stages_version = 0
        self._progress: DischargeProgress | None = None
        self._meds: dict[str, str] | None = None
        self._follow_up: dict[str, Any] | None = None
        self._released = False

    @workflow.run
    async def run(self, inp: DischargeInput) -> DischargeResult:
        self._inp = inp
        prog = self._progress = DischargeProgress(journey_id=inp.journey_id, step="pending-results", bed_id=inp.bed_id)
        ctx = AuditContext(journey_id=inp.journey_id, requested_by=inp.requested_by)
        try:
            await self._await_no_pending_results()
            prog.step = "checklist"
            orders = active_medication_orders(self._stages(), inp.medication_orders)
            await self._open(MED_REC, "attending_physician", {"orders": orders})
            await self._open(FOLLOW_UP, "attending_physician", {})
            await workflow.wait_condition(lambda: self._meds is not None and self._follow_up is not None)
            prog.step = "summary"
            follow = self._follow_up or {}
            summary = await workflow.execute_activity_method(
                DischargeActivities.generate_discharge_summary,
                SummaryInput(audit=ctx, composition_id=f"discharge-summary-{inp.encounter_id}",
                             journey_id=inp.journey_id, encounter_id=inp.encounter_id, patient_id=inp.patient_id,
                             ward=inp.ward, attending=inp.attending, at=workflow.now(), stages=self._stages(),
                             medications=self._meds or {},
                             follow_up_date=date.fromisoformat(follow["date"]) if follow.get("date") else None,
                             follow_up_clinic=follow.get("clinic")), **STORAGE)
            prog.composition_id = summary.composition_id
            prog.step = "bed-cleaning"
            cleaning = await workflow.execute_activity_method(
                DischargeActivities.start_bed_cleaning, self._handover(ctx), **STORAGE)
            prog.bed_id = cleaning.bed_id or prog.bed_id
            if cleaning.bed_id:
                await self._open(CLEANING, "nurse", {"bed_id": cleaning.bed_id})
                await workflow.wait_condition(lambda: self._released)
                if workflow.patched(WAKE_ADMISSIONS):
                    await wake_waiting_admissions(inp.ward, inp.encounter_id)
            prog.step = "finishing"
            finished_at = workflow.now()
            await workflow.execute_activity_method(
                AdmissionActivities.set_encounter_status,
                EncounterStatusInput(audit=ctx, encounter_id=inp.encounter_id, patient_id=inp.patient_id,
                                     status="finished", at=finished_at), **STORAGE)
        except asyncio.CancelledError:
            await self._book.cancel_open()
            raise
        prog.step = "completed"
        await self._hand_on(inp)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DischargeResult(journey_id=inp.journey_id, encounter_id=inp.encounter_id,
                               composition_id=summary.composition_id, bed_id=prog.bed_id, medications=self._meds or {},
                               follow_up=follow, finished_at=finished_at)

    async def _await_no_pending_results(self) -> None:
        """Re-run the check each time the journey sends newer stages, until nothing is pending."""
        while True:
            seen = self._stages_version
            check = await workflow.execute_activity_method(
                DischargeActivities.check_pending_results, PendingResultsInput(stages=self._stages()), **STORAGE)
            self._require_progress().blockers = check.blockers
            if not check.blockers:
                return
            await workflow.wait_condition(lambda seen=seen: self._stages_version != seen)

    async def _hand_on(self, inp: DischargeInput) -> None:
        if inp.notify_journey:
            journey = workflow.get_external_workflow_handle(inp.journey_id)
            await journey.signal("discharge", DischargeRequest(requested_by=inp.requested_by))
        if inp.start_billing:
            await workflow.start_child_workflow(
                BillingWorkflow.run, BillingInput(journey_id=inp.journey_id, encounter_id=inp.encounter_id,
                                                  patient_id=inp.patient_id, requested_by=inp.requested_by),
                id=f"billing-{inp.encounter_id}", parent_close_policy=ParentClosePolicy.ABANDON)

    @workflow.signal
    def stages_changed(self, update: StagesUpdate) -> None:
        """The journey's stages now (a study was reported, a stage ended): pending results are re-checked."""
        self._require_input().stages = list(update.stages)
        self._stages_version += 1

    @workflow.query
    def progress(self) -> DischargeProgress:
        prog = self._require_progress()
        prog.open_tasks = self._book.open_ids()
        return prog

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """Medication reconciliation, follow-up, or bed cleaning (which frees the bed)."""
        task = self._book.claim(done)
        result: dict[str, Any]
        if task.type == MED_REC:
            self._meds = dict(done.payload["decisions"])
            result = {"decisions": self._meds}
        elif task.type == FOLLOW_UP:
            self._follow_up = {k: done.payload[k] for k in ("date", "clinic") if done.payload.get(k)}
            result = dict(self._follow_up)
        else:
            inp = self._require_input()
            released = await workflow.execute_activity_method(
                DischargeActivities.release_bed,
                self._handover(AuditContext(journey_id=inp.journey_id, requested_by=done.actor),
                               completed_by=done.actor), **STORAGE)
            self._released = True
            result = {"bed_id": released.bed_id, "status": released.status}
        await self._book.complete(task, done.actor)
        return TaskCompletionResult(task_id=task.id, status="completed", result=result)

    @complete_task.validator
    def _validate(self, done: TaskCompletion) -> None:
        task = self._book.require_open(done)
        p = done.payload
        if task.type == MED_REC:
            only_fields(p, {"decisions"})
            decisions = p.get("decisions")
            orders = set(task.details.get("orders", []))
            if not isinstance(decisions, dict):
                raise invalid("payload.decisions: an object of medication order id → 'continue' or 'stop'")
            if set(decisions) != orders:
                raise invalid(f"payload.decisions: expected exactly the active orders {sorted(orders)}")
            bad = sorted(k for k, v in decisions.items() if v not in ("continue", "stop"))
            if bad:
                raise invalid(f"payload.decisions.{bad[0]}: must be 'continue' or 'stop'")
        elif task.type == FOLLOW_UP:
            self._validate_follow_up(p)
        else:
            only_fields(p, {"cleaned"})
            if p.get("cleaned") is not True:
                raise invalid("payload.cleaned: must be true once the bed is cleaned")

    def _validate_follow_up(self, p: dict[str, Any]) -> None:
        only_fields(p, {"date", "clinic", "required"})
        if "required" in p and not isinstance(p["required"], bool):
            raise invalid("payload.required: true or false")
        if p.get("required") is False and not p.get("date") and not p.get("clinic"):
            return
        try:
            when = date.fromisoformat(str(p.get("date")))
        except ValueError:
            raise invalid("payload.date: a follow-up date YYYY-MM-DD is required") from None
        today = workflow.now().date()
        if not today <= when <= today + timedelta(days=366):
            raise invalid("payload.date: must be between today and a year from now")
        if not isinstance(p.get("clinic"), str) or not CLINIC.match(p["clinic"]):
            raise invalid("payload.clinic: a clinic code (letters, digits, space, - or _; up to 80)")

    async def _open(self, kind: str, role: str, details: dict[str, Any]) -> None:
        inp = self._require_input()
        await self._book.open(task_id=f"{kind}-{inp.encounter_id}", type=kind, role=role, patient_id=inp.patient_id,
                              journey_id=inp.journey_id, encounter_id=inp.encounter_id, ward=inp.ward,
                              due_minutes=inp.task_due_minutes, details=details)

    def _handover(self, ctx: AuditContext, completed_by: str | None = None) -> BedHandoverInput:
        inp = self._require_input()
        return BedHandoverInput(audit=ctx, encounter_id=inp.encounter_id, patient_id=inp.patient_id,
                                at=workflow.now(), bed_id=self._require_progress().bed_id, completed_by=completed_by)

    def _stages(self) -> list[StageStatus]:
        return list(self._require_input().stages)

    def _require_input(self) -> DischargeInput:
        if self._inp is None:
            raise ApplicationError("discharge has not started", type="NotStarted")
        return self._inp

    def _require_progress(self) -> DischargeProgress:
        if self._progress is None:
            raise ApplicationError("discharge has not started", type="NotStarted")
        return self._progress

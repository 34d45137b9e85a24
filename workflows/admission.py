"""AdmissionWorkflow: register, consent, encounter, care team, bed, in progress.

When the ward is full the workflow waits durably, retrying at an interval and
on a ``bed_available`` signal; past the deadline it opens a bed-management task
for a nurse of that ward, completed through the ``complete_task`` update.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from workflows import search_attributes as sa
    from workflows.contracts import (
        AdmissionInput,
        AdmissionResult,
        AuditContext,
        BedRequest,
        CareTeamInput,
        ConsentInput,
        EncounterInput,
        EncounterStatusInput,
        RegisterPatientInput,
        TaskCompletion,
        TaskCompletionResult,
        TaskRecord,
    )
    from workflows.options import LOCAL_STORAGE, STORAGE

BED_TASK = "bed-management"
#: Patch: the admission's storage writes run as local activities (one workflow task for the whole run).
LOCAL_WRITES = "admission-local-storage"
R = TypeVar("R")


@workflow.defn(name="AdmissionWorkflow")
class AdmissionWorkflow:
    def __init__(self) -> None:
        self._inp: AdmissionInput | None = None
        self._tasks: dict[str, TaskRecord] = {}
        self._bed_id: str | None = None
        self._bed_hint = False
        self._local = False

    async def _store(self, method: Callable[[Any, Any], R], arg: Any) -> R:
        """Run one idempotent storage write: locally since the patch, as a normal activity before it."""
        if self._local:
            return await workflow.execute_local_activity_method(method, arg, **LOCAL_STORAGE)
        return await workflow.execute_activity_method(method, arg, **STORAGE)

    @workflow.run
    async def run(self, inp: AdmissionInput) -> AdmissionResult:
        self._inp = inp
        self._local = workflow.patched(LOCAL_WRITES)
        ctx = AuditContext(journey_id=inp.journey_id, requested_by=inp.requested_by)
        reg = await self._store(AdmissionActivities.register_patient,
                                RegisterPatientInput(audit=ctx, patient_id=inp.patient_id, patient=inp.patient))
        patient_id = reg.patient_id
        await self._store(AdmissionActivities.record_consent, ConsentInput(
            audit=ctx, consent_id=f"consent-{inp.encounter_id}-treat", patient_id=patient_id, purpose="TREAT",
            granted=inp.consent))
        await self._store(AdmissionActivities.create_encounter, EncounterInput(
            audit=ctx, encounter_id=inp.encounter_id, patient_id=patient_id, ward=inp.ward, reason=inp.reason))
        care = await self._store(AdmissionActivities.assign_care_team, CareTeamInput(
            audit=ctx, encounter_id=inp.encounter_id, patient_id=patient_id, ward=inp.ward,
            attending=inp.attending))
        bed_id = await self._acquire_bed(ctx, patient_id)
        admitted_at = workflow.now()
        await self._store(AdmissionActivities.set_encounter_status, EncounterStatusInput(
            audit=ctx, encounter_id=inp.encounter_id, patient_id=patient_id, status="in-progress",
            at=admitted_at))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return AdmissionResult(patient_id=patient_id, encounter_id=inp.encounter_id, ward=inp.ward, bed_id=bed_id,
                               attending=care.attending, care_team_id=care.care_team_id, admitted_at=admitted_at)

    async def _acquire_bed(self, ctx: AuditContext, patient_id: str) -> str:
        inp = self._require_input()
        deadline = workflow.now() + timedelta(seconds=inp.bed_wait_deadline_seconds)
        task_id = f"{BED_TASK}-{inp.encounter_id}"
        while self._bed_id is None:
            res = await self._store(AdmissionActivities.assign_bed, BedRequest(
                audit=ctx, encounter_id=inp.encounter_id, patient_id=patient_id, ward=inp.ward))
            if res.bed_id:
                self._bed_id = res.bed_id
                break
            now = workflow.now()
            if task_id not in self._tasks and now >= deadline:
                await self._open_task(TaskRecord(
                    id=task_id, type=BED_TASK, role="nurse", ward=inp.ward, patient_id=patient_id,
                    journey_id=inp.journey_id, workflow_id=workflow.info().workflow_id,
                    encounter_id=inp.encounter_id, created_at=now, due=now + timedelta(minutes=30),
                    details={"ward": inp.ward, "waiting_since": (deadline - timedelta(
                        seconds=inp.bed_wait_deadline_seconds)).isoformat()}))
            wait = inp.bed_retry_seconds
            if task_id not in self._tasks:
                wait = max(1, min(wait, int((deadline - now).total_seconds()) or 1))
            try:
                await workflow.wait_condition(lambda: self._bed_hint or self._bed_id is not None,
                                              timeout=timedelta(seconds=wait))
            except TimeoutError:
                pass
            self._bed_hint = False
        task = self._tasks.get(task_id)
        if task is not None and task.status == "open":
            await self._close_task(task, "cancelled", None)
        return self._bed_id

    @workflow.signal
    def bed_available(self) -> None:
        """A bed on the ward was freed: try again now rather than at the next interval."""
        self._bed_hint = True

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """A nurse resolves the bed shortage by naming a bed of the ward that is free now."""
        task = self._tasks[done.task_id]
        inp = self._require_input()
        res = await self._store(AdmissionActivities.assign_bed, BedRequest(
            audit=AuditContext(journey_id=inp.journey_id, requested_by=done.actor),
            encounter_id=inp.encounter_id, patient_id=task.patient_id, ward=inp.ward,
            bed_id=str(done.payload["bed_id"])))
        if res.bed_id is None:
            raise ApplicationError(res.reason, type="BedNotFree")
        self._bed_id = res.bed_id
        await self._close_task(task, "completed", done.actor)
        return TaskCompletionResult(task_id=task.id, status="completed", result={"bed_id": res.bed_id})

    @complete_task.validator
    def _validate_completion(self, done: TaskCompletion) -> None:
        task = self._tasks.get(done.task_id)
        if task is None:
            raise ApplicationError(f"task {done.task_id} is not open in this admission", type="TaskNotFound")
        if task.status != "open":
            raise ApplicationError(f"task {done.task_id} is already {task.status}", type="TaskNotOpen")
        if done.role != task.role:
            raise ApplicationError(f"task {done.task_id} is for the {task.role} role", type="WrongRole")
        bed = done.payload.get("bed_id")
        if not isinstance(bed, str) or not bed.strip():
            raise ApplicationError("payload.bed_id: a bed id of the ward is required", type="InvalidTaskPayload")
        extra = sorted(set(done.payload) - {"bed_id", "note"})
        if extra:
            raise ApplicationError(f"payload: unknown field(s) {', '.join(extra)}", type="InvalidTaskPayload")

    async def _open_task(self, task: TaskRecord) -> None:
        self._tasks[task.id] = task
        await self._store(AdmissionActivities.upsert_task, task)
        self._publish_task_roles()

    async def _close_task(self, task: TaskRecord, status: str, by: str | None) -> None:
        task.status, task.completed_by, task.completed_at = status, by, workflow.now()
        await self._store(AdmissionActivities.upsert_task, task)
        self._publish_task_roles()

    def _publish_task_roles(self) -> None:
        roles = sorted({t.role for t in self._tasks.values() if t.status == "open"})
        workflow.upsert_search_attributes([sa.OPEN_TASK_ROLES.value_set(roles)])

    def _require_input(self) -> AdmissionInput:
        if self._inp is None:
            raise ApplicationError("admission has not started", type="NotStarted", non_retryable=True)
        return self._inp

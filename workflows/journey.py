"""PatientJourney: one durable process per hospital stay (workflow id ``journey-<encounter id>``).

Admission runs first as a child workflow. Once the patient is admitted, clinical
routes start further stages (imaging, pharmacy, …) through the ``start_stage``
update; each runs as its own child so operators find it by type in the Temporal
UI, several may run at once, and the journey's query shows them all.
"""
from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from workflows import search_attributes as sa
    from workflows.admission import AdmissionWorkflow
    from workflows.contracts import (
        AdmissionInput,
        AuditContext,
        DischargeRequest,
        EncounterStatusInput,
        JourneyInput,
        JourneyState,
    )
    from workflows.options import STORAGE
    from workflows.stage_registry import STAGE_SPECS
    from workflows.stages import JourneyContext, StageInputError, StageRequest, StageStatus, stage_workflow_id


def root_cause(err: BaseException) -> str:
    """The innermost business reason of a failure chain (child → activity → application error)."""
    found: BaseException = err
    cursor: BaseException | None = err
    while cursor is not None:
        if isinstance(cursor, ApplicationError):
            found = cursor
        cursor = getattr(cursor, "cause", None)
    return found.message if isinstance(found, ApplicationError) else str(found)


def journey_id_for(encounter_id: str) -> str:
    return f"journey-{encounter_id}"


@workflow.defn(name="PatientJourney")
class PatientJourney:
    def __init__(self) -> None:
        self._state: JourneyState | None = None
        self._discharge: DischargeRequest | None = None
        self._children: dict[str, workflow.ChildWorkflowHandle] = {}
        self._watchers: list[asyncio.Task[None]] = []

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyState:
        state = self._state = JourneyState(journey_id=inp.journey_id, patient_id=inp.patient_id,
                                           encounter_id=inp.encounter_id, ward=inp.ward, stage="admission",
                                           status="in-progress")
        self._set_stage("admission")
        try:
            admitted = await workflow.execute_child_workflow(
                AdmissionWorkflow.run,
                AdmissionInput(journey_id=inp.journey_id, encounter_id=inp.encounter_id, patient_id=inp.patient_id,
                               patient=inp.patient, ward=inp.ward, reason=inp.reason, requested_by=inp.requested_by,
                               consent=inp.consent, attending=inp.attending,
                               bed_wait_deadline_seconds=inp.bed_wait_deadline_seconds,
                               bed_retry_seconds=inp.bed_retry_seconds),
                id=f"admission-{inp.encounter_id}",
                search_attributes=workflow.info().typed_search_attributes,
            )
        except ChildWorkflowError as err:
            state.status = "failed"
            state.failure = root_cause(err)
            return state
        state.patient_id, state.bed_id, state.attending = admitted.patient_id, admitted.bed_id, admitted.attending
        state.care_team_id = admitted.care_team_id
        self._set_stage("admitted")

        await workflow.wait_condition(lambda: self._discharge is not None)
        request = self._discharge
        assert request is not None
        await self._stop_running_stages()
        await workflow.execute_activity_method(
            AdmissionActivities.set_encounter_status,
            EncounterStatusInput(audit=AuditContext(journey_id=inp.journey_id, requested_by=request.requested_by),
                                 encounter_id=inp.encounter_id, patient_id=state.patient_id, status="finished",
                                 at=workflow.now()), **STORAGE)
        self._set_stage("discharged")
        state.status = "completed"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    @workflow.query
    def state(self) -> JourneyState:
        if self._state is None:
            raise ApplicationError("journey has not started", type="NotStarted")
        return self._state

    @workflow.signal
    def discharge(self, request: DischargeRequest) -> None:
        """End the stay: running stages are cancelled, the encounter finished and the bed freed."""
        if self._discharge is None:
            self._discharge = request

    @workflow.update
    async def start_stage(self, request: StageRequest) -> StageStatus:
        """Start a stage as a child workflow; the same stage id again returns the one already started."""
        state = self._require_state()
        workflow_id = stage_workflow_id(request.kind, request.stage_id)
        for existing in state.stages:
            if existing.workflow_id == workflow_id:
                return existing
        spec = STAGE_SPECS[request.kind]
        child_input = spec.build_input(self._context(), request)
        status = StageStatus(kind=request.kind, stage_id=request.stage_id, workflow_id=workflow_id,
                             started_at=workflow.now())
        state.stages.append(status)
        handle = await workflow.start_child_workflow(
            spec.workflow_type, child_input, id=workflow_id,
            search_attributes=workflow.info().typed_search_attributes)
        self._children[workflow_id] = handle
        self._watchers.append(asyncio.create_task(self._watch(status, handle)))
        return status

    @start_stage.validator
    def _validate_stage(self, request: StageRequest) -> None:
        state = self._require_state()
        if state.stage != "admitted" or self._discharge is not None:
            raise ApplicationError(f"the journey is at stage {state.stage!r}; stages start while the patient "
                                   "is admitted", type="JourneyNotReady")
        spec = STAGE_SPECS.get(request.kind)
        if spec is None:
            raise ApplicationError(f"kind: unknown stage {request.kind!r}", type="InvalidStagePayload")
        if not request.stage_id or len(request.stage_id) > 80:
            raise ApplicationError("stage_id: 1 to 80 characters", type="InvalidStagePayload")
        if any(s.workflow_id == stage_workflow_id(request.kind, request.stage_id) for s in state.stages):
            return
        try:
            spec.build_input(self._context(), request)
        except StageInputError as exc:
            raise ApplicationError(str(exc), type="InvalidStagePayload") from exc

    async def _watch(self, status: StageStatus, handle: workflow.ChildWorkflowHandle) -> None:
        try:
            result = await handle
        except ChildWorkflowError as err:
            status.status = "cancelled" if self._discharge is not None else "failed"
            status.failure = root_cause(err)
        else:
            status.status = "completed"
            status.result = STAGE_SPECS[status.kind].summarize(result)
        status.ended_at = workflow.now()

    async def _stop_running_stages(self) -> None:
        """Cancel what still runs (each stage compensates on cancellation) and wait for it to end."""
        for status in self._require_state().stages:
            if status.status == "running":
                self._children[status.workflow_id].cancel()
        if self._watchers:
            await asyncio.gather(*self._watchers)

    def _context(self) -> JourneyContext:
        s = self._require_state()
        return JourneyContext(journey_id=s.journey_id, patient_id=s.patient_id, encounter_id=s.encounter_id,
                              ward=s.ward, attending=s.attending, care_team_id=s.care_team_id, bed_id=s.bed_id)

    def _require_state(self) -> JourneyState:
        if self._state is None:
            raise ApplicationError("journey has not started", type="NotStarted")
        return self._state

    def _set_stage(self, stage: str) -> None:
        state = self._require_state()
        state.stage = stage
        workflow.upsert_search_attributes([sa.STAGE.value_set(stage)])


__all__ = ["PatientJourney", "StageInputError", "journey_id_for", "root_cause"]

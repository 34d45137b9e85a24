"""The discharge half of PatientJourney: the checklist child, its stages, and the hand-over to billing.

``start_discharge`` starts ``DischargeWorkflow`` as the journey's child (``discharge-<encounter
id>``) and puts the journey at stage ``discharging``; called again while it runs, it re-sends the
journey's stages. Each stage that ends is sent too (``stages_changed``), so pending results are
re-checked. A checklist that completes ends the stay (``_end_after_checklist``: stop the stages
still running, ``discharged``, then ``BillingWorkflow`` as an abandoned child); one that fails or
is cancelled returns the journey to ``admitted``. See ``workflows.journey`` for the whole journey.
"""
from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    FailureError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.billing import BillingWorkflow
    from workflows.billing_contracts import BillingInput
    from workflows.contracts import DischargeRequest, JourneyState
    from workflows.discharge import DischargeWorkflow
    from workflows.discharge_contracts import (
        DischargePlanRequest,
        DischargePlanStatus,
        DischargeResult,
        StagesUpdate,
        discharge_input_for,
        discharge_workflow_id,
    )
    from workflows.stages import StageStatus


def root_cause(err: BaseException) -> str:
    """The innermost business reason of a failure chain (child → activity → application error)."""
    found: BaseException = err
    cursor: BaseException | None = err
    while cursor is not None:
        if isinstance(cursor, ApplicationError):
            found = cursor
        cursor = getattr(cursor, "cause", None)
    return found.message if isinstance(found, ApplicationError) else str(found)


class JourneyDischarge:
    """Discharge handlers and steps; ``PatientJourney`` provides the state and the stage children."""

    def __init__(self) -> None:
        self._state: JourneyState | None = None
        self._discharge: DischargeRequest | None = None
        self._watchers: list[asyncio.Task[None]] = []
        self._checklist: workflow.ChildWorkflowHandle | None = None
        self._checklist_by = ""
        self._checklist_done: DischargeResult | None = None
        #: The stay is ending: stages cancelled from now on were stopped by discharge, not failed.
        self._ending = False

    @workflow.update
    async def start_discharge(self, request: DischargePlanRequest) -> DischargePlanStatus:
        """Start the discharge checklist as a child; while it runs, calling again re-sends the stages."""
        state = self._require_state()
        current = state.discharge
        if current is not None and current.status == "running":
            await workflow.wait_condition(lambda: self._checklist is not None or current.status != "running")
            await self._send_stages()
            return DischargePlanStatus(workflow_id=current.workflow_id, status="refreshed", discharge=current)
        workflow_id = discharge_workflow_id(state.encounter_id)
        status = StageStatus(kind="discharge", stage_id=state.encounter_id, workflow_id=workflow_id,
                             started_at=workflow.now())
        state.discharge, self._checklist_by = status, request.requested_by
        self._set_stage("discharging")
        try:
            handle = await workflow.start_child_workflow(
                DischargeWorkflow.run, discharge_input_for(state, request), id=workflow_id,
                search_attributes=workflow.info().typed_search_attributes)
        except WorkflowAlreadyStartedError as exc:
            state.discharge = current
            self._set_stage("admitted")
            raise ApplicationError(f"{workflow_id} is already running outside this journey",
                                   type="JourneyNotReady") from exc
        self._checklist = handle
        self._watchers.append(asyncio.create_task(self._watch_checklist(status, handle)))
        return DischargePlanStatus(workflow_id=workflow_id, status="started", discharge=status)

    @start_discharge.validator
    def _validate_discharge(self, request: DischargePlanRequest) -> None:
        state = self._require_state()
        if self._checklist_running():
            return
        if state.stage != "admitted" or self._discharge is not None:
            raise ApplicationError(f"the journey is at stage {state.stage!r}; discharge starts while the patient "
                                   "is admitted", type="JourneyNotReady")
        orders = request.medication_orders
        if len(orders) > 100 or not all(isinstance(o, str) and 0 < len(o) <= 80 for o in orders):
            raise ApplicationError("medication_orders: up to 100 order ids of 1 to 80 characters",
                                   type="InvalidDischargePlan")

    async def _watch_checklist(self, status: StageStatus, handle: workflow.ChildWorkflowHandle) -> None:
        try:
            result: DischargeResult = await handle
        except ChildWorkflowError as err:
            status.status = "cancelled" if isinstance(err.cause, CancelledError) else "failed"
            status.failure = root_cause(err)
            status.ended_at = workflow.now()
            self._checklist = None
            if self._require_state().stage == "discharging":
                self._set_stage("admitted")
            return
        status.status, status.ended_at = "completed", workflow.now()
        status.result = {"composition_id": result.composition_id, "bed_id": result.bed_id}
        self._checklist_done = result

    async def _send_stages(self) -> None:
        """Pending results are re-checked against the stages as they are now (the checklist may have ended)."""
        if self._checklist is None or not self._checklist_running():
            return
        try:
            await self._checklist.signal(DischargeWorkflow.stages_changed,
                                         StagesUpdate(stages=list(self._require_state().stages)))
        except FailureError:
            workflow.logger.info("the discharge checklist ended before it got the stages")

    async def _end_after_checklist(self) -> JourneyState:
        """The checklist finished the stay: stop what still runs, then hand the stay to billing."""
        state = self._require_state()
        self._ending = True
        await self._stop_running_stages()
        self._set_stage("discharged")
        billing_id = f"billing-{state.encounter_id}"
        try:
            await workflow.start_child_workflow(
                BillingWorkflow.run,
                BillingInput(journey_id=state.journey_id, encounter_id=state.encounter_id,
                             patient_id=state.patient_id, requested_by=self._checklist_by),
                id=billing_id, parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=workflow.info().typed_search_attributes)
        except WorkflowAlreadyStartedError:
            workflow.logger.warning("billing of this stay had already started")
        state.billing_workflow_id = billing_id
        await self._hl7_discharged()  # type: ignore[attr-defined]
        state.status = "completed"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    def _checklist_running(self) -> bool:
        current = self._require_state().discharge
        return current is not None and current.status == "running"

    async def _stop_running_stages(self) -> None:
        raise NotImplementedError  # the journey's: it owns the stage children

    def _require_state(self) -> JourneyState:
        if self._state is None:
            raise ApplicationError("journey has not started", type="NotStarted")
        return self._state

    def _set_stage(self, stage: str) -> None:
        state = self._require_state()
        state.stage = stage
        workflow.upsert_search_attributes([sa.STAGE.value_set(stage)])

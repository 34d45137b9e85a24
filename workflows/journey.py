"""PatientJourney: one durable process per hospital stay (workflow id ``journey-<encounter id>``).

Admission runs first as a child workflow. Once the patient is admitted, clinical
routes start further stages (imaging, pharmacy, …) through the ``start_stage``
update; each runs as its own child so operators find it by type in the Temporal
UI, several may run at once, and the journey's query shows them all.

Discharge belongs to the journey (``workflows.journey_discharge``): the ``start_discharge``
update starts ``DischargeWorkflow`` as a child and the journey is at stage ``discharging``
until it ends. No new stage starts then, but running ones go on, since their results may
be what discharge waits for; each stage that ends is sent to the checklist. When the
checklist completes, stages still running are cancelled (each compensates), the journey
is ``discharged`` and starts ``BillingWorkflow`` as an abandoned child, so settlement may
take weeks after the journey closed. The ``discharge`` signal still ends a stay at once
(the encounter finished, the bed freed, admissions waiting on the ward woken), as it did
before the journey owned discharge.

Long stays continue as new, at a quiet moment only: admitted, no child (stage or
discharge) running, no update handler in flight. That is most of a long stay (days of
waiting between orders), and it means no child ever outlives the run that started it,
so a new run has nothing to re-attach to: it gets the whole ``JourneyState`` in
``JourneyInput.resume`` (stages, results, the orders cancelled by their placer) and waits as before. A run busy with stages throughout keeps
growing, but only by the few events per stage the journey records itself (the stages'
work is in their own histories). The trigger is the server's suggestion, or
``JourneyInput.continue_as_new_after_events``. An update that reaches a closing run is
refused by the server with a retryable error and the client retries it on the new run.

Orders may also arrive by signal (``workflows.journey_orders``, from HL7), and with
``JourneyInput.hl7_destinations`` the stay's admission, orders, results and discharge go out as
HL7 v2 (``workflows.journey_hl7``, patch ``hl7-outbound``).

Replay: runs recorded before the ``discharge-checklist`` patch neither continue as new nor
wake admissions on the signal path; everything else new follows only from events (the
``start_discharge`` update) that such histories cannot contain.
"""
from __future__ import annotations

import asyncio
from dataclasses import replace

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from workflows import billing_contracts, discharge_contracts  # noqa: F401 - see below
    from workflows.admission import AdmissionWorkflow
    from workflows.contracts import (
        AdmissionInput,
        AuditContext,
        DischargeRequest,
        EncounterStatusInput,
        JourneyInput,
        JourneyState,
    )
    from workflows.discharge import wake_waiting_admissions
    from workflows.journey_discharge import JourneyDischarge, root_cause
    from workflows.journey_hl7 import JourneyHl7
    from workflows.journey_orders import JourneyOrders
    from workflows.journey_results import JourneyResults
    from workflows.options import STORAGE
    from workflows.stage_registry import STAGE_SPECS
    from workflows.stages import JourneyContext, StageInputError, StageRequest, StageStatus, stage_workflow_id

# The payload modules of the discharge half are imported above as well: the sandbox resolves a payload's
# types only in modules it has seen imported, and workflows.journey_discharge is passed through.

#: Patch: continue-as-new for long stays, and waking waiting admissions when the signal frees a bed.
PATCH = "discharge-checklist"
#: A lower threshold would make every new run continue as new again at once.
MIN_EVENTS_BEFORE_CONTINUE = 20


def journey_id_for(encounter_id: str) -> str:
    return f"journey-{encounter_id}"


@workflow.defn(name="PatientJourney")
class PatientJourney(JourneyDischarge, JourneyResults, JourneyOrders, JourneyHl7):
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        super().__init__()
        self._inp = inp
        # The state exists before any handler runs: an update may reach a new run in its first task.
        self._state = inp.resume or JourneyState(
            journey_id=inp.journey_id, patient_id=inp.patient_id, encounter_id=inp.encounter_id, ward=inp.ward,
            stage="admission", status="in-progress")
        self._children: dict[str, workflow.ChildWorkflowHandle] = {}
        self._patched = False
        self._orders_init()
        self._hl7_init()

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyState:
        self._patched = workflow.patched(PATCH)
        if inp.resume is None:
            if not await self._admit(inp):
                return self._require_state()
            self._hl7_admitted()
        while True:
            await workflow.wait_condition(lambda: self._checklist_done is not None or self._signal_ends_stay()
                                          or self._time_to_continue())
            if self._checklist_done is not None:
                return await self._end_after_checklist()
            if self._signal_ends_stay():
                return await self._end_on_signal()
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._time_to_continue():
                state = self._require_state()
                state.continued += 1
                workflow.continue_as_new(replace(inp, resume=state),
                                         search_attributes=workflow.info().typed_search_attributes)

    async def _admit(self, inp: JourneyInput) -> bool:
        state = self._require_state()
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
            return False
        state.patient_id, state.bed_id, state.attending = admitted.patient_id, admitted.bed_id, admitted.attending
        state.care_team_id = admitted.care_team_id
        self._set_stage("admitted")
        return True

    async def _end_on_signal(self) -> JourneyState:
        """The ``discharge`` signal: stop the stages, finish the encounter (which frees the bed)."""
        state, request = self._require_state(), self._discharge
        assert request is not None
        self._ending = True
        await self._stop_running_stages()
        await workflow.execute_activity_method(
            AdmissionActivities.set_encounter_status,
            EncounterStatusInput(audit=AuditContext(journey_id=state.journey_id, requested_by=request.requested_by),
                                 encounter_id=state.encounter_id, patient_id=state.patient_id, status="finished",
                                 at=workflow.now()), **STORAGE)
        if self._patched:
            await wake_waiting_admissions(state.ward, state.encounter_id)
        self._set_stage("discharged")
        await self._hl7_discharged()
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
        return await self._launch(request)

    async def _launch(self, request: StageRequest) -> StageStatus:
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
        self._hl7_order(request)
        return status

    @start_stage.validator
    def _validate_stage(self, request: StageRequest) -> None:
        state = self._require_state()
        if state.stage != "admitted" or self._discharge is not None or self._checklist_running():
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
            stopped = self._discharge is not None or self._ending or self._cancelled_by_order(status)
            status.status = "cancelled" if stopped else "failed"
            status.failure = root_cause(err)
        else:
            status.status = "completed"
            status.result = STAGE_SPECS[status.kind].summarize(result)
        status.ended_at = workflow.now()
        await self._send_stages()

    async def _stop_running_stages(self) -> None:
        """Cancel the stages that still run (each compensates on cancellation) and wait for them to end."""
        for status in self._require_state().stages:
            if status.status == "running":
                self._children[status.workflow_id].cancel()
        if self._watchers:
            await asyncio.gather(*self._watchers)

    def _signal_ends_stay(self) -> bool:
        return self._discharge is not None and not self._checklist_running()

    def _time_to_continue(self) -> bool:
        """A quiet moment of a long stay (see the module docstring)."""
        state, inp = self._require_state(), self._inp
        if not self._patched or state.stage != "admitted" or self._discharge is not None:
            return False
        if self._checklist_running() or any(s.status == "running" for s in state.stages):
            return False
        if not all(w.done() for w in self._watchers) or not self._hl7_idle():
            return False
        info = workflow.info()
        limit = inp.continue_as_new_after_events
        if limit is not None and info.get_current_history_length() >= max(limit, MIN_EVENTS_BEFORE_CONTINUE):
            return True
        return info.is_continue_as_new_suggested()

    def _context(self) -> JourneyContext:
        s = self._require_state()
        return JourneyContext(journey_id=s.journey_id, patient_id=s.patient_id, encounter_id=s.encounter_id,
                              ward=s.ward, attending=s.attending, care_team_id=s.care_team_id, bed_id=s.bed_id)


__all__ = ["PatientJourney", "StageInputError", "journey_id_for", "root_cause"]

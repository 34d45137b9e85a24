"""PatientJourney: one durable process per hospital stay (workflow id ``journey-<encounter id>``).

Each stage runs as a child workflow so operators find it by type in the
Temporal UI. The journey stays open while the patient is in hospital.
"""
from __future__ import annotations

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
        self._set_stage("admitted")

        await workflow.wait_condition(lambda: self._discharge is not None)
        request = self._discharge
        assert request is not None
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
        """End the stay: the encounter is finished and the bed freed."""
        if self._discharge is None:
            self._discharge = request

    def _set_stage(self, stage: str) -> None:
        assert self._state is not None
        self._state.stage = stage
        workflow.upsert_search_attributes([sa.STAGE.value_set(stage)])

"""Hl7IngestWorkflow: one durable, ordered inbox per patient identifier for inbound HL7 v2.

The MLLP listener signals-with-start ``hl7-ingest-<key>`` (the key is the keyed id of PID-3)
and acknowledges ``AA`` only once the server has accepted the signal. Messages are applied
one at a time in arrival order, so one patient's A01, ORU and A03 never overtake each other,
while other patients' inboxes run in parallel. A control id (MSH-10) already seen is dropped:
a sender that resends after a lost ACK does not apply the message twice (the ids travel with
continue-as-new; every effect is also idempotent on its own).

Effects: A01 starts the same ``PatientJourney`` as the task API (an abandoned child, so the
stay outlives this inbox's run) and waits until its encounter exists; A03 signals the
journey's ``discharge``; A04 registers the patient; A08 updates demographics; ORU^R01
stores Observations on the current encounter; ORM^O01/OML^O21 start or cancel an imaging or
pharmacy order in the patient's journey (``workflows.hl7_orders``; histories from before the
``hl7-orders-start-stages`` patch only recorded them).
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from activities.hl7_fhir import STATUS as OBX_STATUS
    from activities.hl7_ingest import Hl7IngestActivities
    from workflows import search_attributes as sa
    from workflows.contracts import (
        AuditContext,
        DischargeRequest,
        JourneyInput,
        PatientDemographics,
        RegisterPatientInput,
        ResultNotice,
    )
    from workflows.hl7_contracts import (
        Hl7DemographicsUpdate,
        Hl7EncounterWait,
        Hl7IngestInput,
        Hl7IngestState,
        Hl7Message,
        Hl7ObservationBatch,
        Hl7OrderRecord,
        Hl7Outcome,
        Hl7PatientFacts,
        Hl7PatientLookup,
    )
    from workflows.hl7_orders import ORDERS_START, apply_order
    from workflows.journey import PatientJourney, journey_id_for
    from workflows.options import STORAGE

SEEN_LIMIT = 2000
#: Patch: stored ORU^R01 results are signalled to the patient's journey.
RESULTS_REACH_JOURNEY = "oru-results-reach-journey"
OUTCOME_LIMIT = 50
#: Deterministic encounter ids: the same message always names the same stay.
ENCOUNTER_NAMESPACE = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6")
ENCOUNTER_WAIT: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.5,
                                maximum_interval=timedelta(seconds=10), maximum_attempts=60,
                                non_retryable_error_types=["AdmissionFailed"]),
}


def ingest_workflow_id(patient_key: str) -> str:
    return f"hl7-ingest-{patient_key}"


@workflow.defn(name="Hl7IngestWorkflow")
class Hl7IngestWorkflow:
    @workflow.init
    def __init__(self, inp: Hl7IngestInput) -> None:
        self._seen: list[str] = list(inp.seen)
        self._seen_set = set(self._seen)
        self._queue: list[Hl7Message] = list(inp.pending)
        self._outcomes: list[Hl7Outcome] = list(inp.outcomes)
        self._processed = inp.processed
        self._in_run = 0
        for msg in inp.incoming:
            self.receive(msg)

    @workflow.signal
    def receive(self, msg: Hl7Message) -> None:
        """A message handed over by the listener; one whose control id was seen is dropped."""
        key = f"{msg.sending_facility}|{msg.control_id}"
        if key in self._seen_set:
            self._note(Hl7Outcome(control_id=msg.control_id, kind=msg.kind, status="duplicate"))
            return
        self._seen.append(key)
        self._seen_set.add(key)
        if len(self._seen) > SEEN_LIMIT:
            self._seen_set.discard(self._seen.pop(0))
        self._queue.append(msg)

    @workflow.signal
    def receive_batch(self, batch: list[Hl7Message]) -> None:
        """Several messages in arrival order (from an intake shard)."""
        for msg in batch:
            self.receive(msg)

    @workflow.query
    def state(self) -> Hl7IngestState:
        return Hl7IngestState(patient_key=workflow.info().workflow_id, processed=self._processed,
                              pending=len(self._queue), outcomes=list(self._outcomes))

    @workflow.run
    async def run(self, inp: Hl7IngestInput) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._queue) or self._time_to_continue(inp))
            if self._queue:
                msg = self._queue[0]
                outcome = await self._apply(inp, msg)
                self._queue.pop(0)
                self._processed += 1
                self._in_run += 1
                self._note(outcome)
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._queue:
                workflow.continue_as_new(Hl7IngestInput(
                    patient_key=inp.patient_key, requested_by=inp.requested_by, seen=list(self._seen),
                    pending=[], outcomes=list(self._outcomes), processed=self._processed,
                    continue_after=inp.continue_after))

    def _time_to_continue(self, inp: Hl7IngestInput) -> bool:
        return self._in_run >= inp.continue_after or workflow.info().is_continue_as_new_suggested()

    def _note(self, outcome: Hl7Outcome) -> None:
        self._outcomes.append(outcome)
        del self._outcomes[:-OUTCOME_LIMIT]

    async def _apply(self, inp: Hl7IngestInput, msg: Hl7Message) -> Hl7Outcome:
        by = f"{inp.requested_by}:{msg.sending_facility}"[:80]
        try:
            facts: Hl7PatientFacts = await workflow.execute_activity_method(
                Hl7IngestActivities.hl7_resolve_patient,
                Hl7PatientLookup(identifier_system=msg.identifier_system, identifier_value=msg.identifier_value,
                                 derived_patient_id=msg.derived_patient_id, ward=msg.ward), **STORAGE)
            kind = msg.kind
            if kind == "ADT^A01":
                return await self._admit(msg, facts, by)
            if kind == "ADT^A03":
                return await self._discharge(msg, facts, by)
            if kind == "ADT^A04" or (kind == "ADT^A08" and not facts.exists):
                return await self._register(msg, facts, by)
            if not facts.exists:
                return Hl7Outcome(msg.control_id, kind, "skipped", "the patient (PID-3) is not known here")
            if kind == "ADT^A08":
                await workflow.execute_activity_method(
                    Hl7IngestActivities.hl7_update_demographics,
                    Hl7DemographicsUpdate(control_id=msg.control_id, patient_id=facts.patient_id, requested_by=by,
                                          given=msg.given, family=msg.family, birth_date=msg.birth_date,
                                          gender=msg.gender), **STORAGE)
                return Hl7Outcome(msg.control_id, kind, "applied", "demographics updated", facts.patient_id)
            if kind == "ORU^R01":
                result = await workflow.execute_activity_method(
                    Hl7IngestActivities.hl7_record_observations,
                    Hl7ObservationBatch(control_id=msg.control_id, sending_facility=msg.sending_facility,
                                        patient_id=facts.patient_id, encounter_id=facts.current_encounter_id,
                                        requested_by=by, observations=msg.observations,
                                        fallback_time=msg.message_time or msg.received_at), **STORAGE)
                if facts.active_journey_id and workflow.patched(RESULTS_REACH_JOURNEY):
                    await self._signal_results(facts.active_journey_id, msg, result.observation_ids)
                return Hl7Outcome(msg.control_id, kind, "applied",
                                  f"{len(result.observation_ids)} observations ({result.created} new)",
                                  facts.current_encounter_id)
            if msg.order_control and workflow.patched(ORDERS_START):
                return await apply_order(msg, facts, by)
            note = await workflow.execute_activity_method(
                Hl7IngestActivities.hl7_record_order,
                Hl7OrderRecord(control_id=msg.control_id, kind=kind, patient_id=facts.patient_id,
                               encounter_id=facts.current_encounter_id, requested_by=by, order_id=msg.order_id,
                               order_code=msg.order_code), **STORAGE)
            return Hl7Outcome(msg.control_id, kind, "applied", note, facts.current_encounter_id)
        except FailureError as err:  # an activity gave up, or the journey closed before its signal
            cause = err.cause if isinstance(err, ActivityError) else err
            reason = cause.message if isinstance(cause, ApplicationError) else type(cause).__name__
            return Hl7Outcome(msg.control_id, msg.kind, "failed", reason[:200])

    async def _signal_results(self, journey_id: str, msg: Hl7Message, observation_ids: list[str]) -> None:
        """Each stored OBX to the patient's journey (codes and flags only): a critical one is reviewed there."""
        journey = workflow.get_external_workflow_handle(journey_id)
        for obx, obs_id in zip(msg.observations, observation_ids, strict=False):
            notice = ResultNotice(observation_id=obs_id, code=(obx.code or "unknown")[:80],
                                  status=OBX_STATUS.get(obx.status, "final"),
                                  interpretation=obx.abnormal_flag or None, source="hl7")
            try:
                await journey.signal("result_posted", notice)
            except FailureError:  # the stay ended meanwhile: the result is stored, nobody is waiting
                workflow.logger.info("a result arrived after its journey ended")
                return

    async def _admit(self, msg: Hl7Message, facts: Hl7PatientFacts, by: str) -> Hl7Outcome:
        if facts.active_journey_id is not None:
            return Hl7Outcome(msg.control_id, msg.kind, "skipped", "the patient already has an active stay",
                              facts.active_journey_id)
        if not facts.ward_known:
            return Hl7Outcome(msg.control_id, msg.kind, "failed", "PV1-3 ward is not a ward of this hospital")
        assert msg.ward is not None and msg.birth_date is not None
        encounter_id = str(uuid.uuid5(ENCOUNTER_NAMESPACE, f"{facts.patient_id}|{msg.sending_facility}|"
                                                           f"{msg.control_id}"))
        journey_id = journey_id_for(encounter_id)
        journey = JourneyInput(
            journey_id=journey_id, encounter_id=encounter_id, patient_id=facts.patient_id,
            patient=PatientDemographics(identifier_system=msg.identifier_system,
                                        identifier_value=msg.identifier_value, given=msg.given, family=msg.family,
                                        birth_date=msg.birth_date, gender=msg.gender or "unknown"),
            ward=msg.ward, reason=msg.reason or "admitted via HL7", requested_by=by, attending=msg.attending,
            hl7_destinations=list(msg.hl7_destinations))
        try:
            # By type name: the journey's result is none of this inbox's business (it is never decoded here).
            await workflow.start_child_workflow(
                "PatientJourney", journey, id=journey_id, parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=sa.journey_attributes(patient_id=facts.patient_id, ward=msg.ward,
                                                        stage="admission"))
        except WorkflowAlreadyStartedError:
            pass  # started by an earlier run of this inbox: the same message, already applied
        await workflow.execute_activity_method(Hl7IngestActivities.hl7_await_encounter,
                                               Hl7EncounterWait(journey_id=journey_id), **ENCOUNTER_WAIT)
        return Hl7Outcome(msg.control_id, msg.kind, "applied", "admission journey started", journey_id)

    async def _discharge(self, msg: Hl7Message, facts: Hl7PatientFacts, by: str) -> Hl7Outcome:
        if facts.active_journey_id is None:
            return Hl7Outcome(msg.control_id, msg.kind, "skipped", "the patient has no active stay")
        handle = workflow.get_external_workflow_handle(facts.active_journey_id)
        await handle.signal(PatientJourney.discharge, DischargeRequest(requested_by=by, reason="discharged (HL7 A03)"))
        return Hl7Outcome(msg.control_id, msg.kind, "applied", "discharge signalled", facts.active_journey_id)

    async def _register(self, msg: Hl7Message, facts: Hl7PatientFacts, by: str) -> Hl7Outcome:
        if msg.birth_date is None or not (msg.given and msg.family):
            return Hl7Outcome(msg.control_id, msg.kind, "skipped", "name and birth date are needed to register")
        result = await workflow.execute_activity_method(
            AdmissionActivities.register_patient,
            RegisterPatientInput(
                audit=AuditContext(journey_id=workflow.info().workflow_id, requested_by=by),
                patient_id=facts.patient_id,
                patient=PatientDemographics(identifier_system=msg.identifier_system,
                                            identifier_value=msg.identifier_value, given=msg.given,
                                            family=msg.family, birth_date=msg.birth_date,
                                            gender=msg.gender or "unknown")), **STORAGE)
        return Hl7Outcome(msg.control_id, msg.kind, "applied",
                          "outpatient registered" if result.created else "patient already registered",
                          result.patient_id)

"""TriageWorkflow: triage task → NEWS2 + ESI → confirm/override → re-assessments until seen.

Runs as a journey stage (kind ``triage``, workflow id ``triage-<stage id>``) or standalone for
an ED arrival before admission (``triage-<triage id>``, started by ``POST /api/v1/triage`` or at
the end of an intake). Human steps are tasks completed through the ``complete_task`` update:

* ``triage`` / ``triage-reassessment`` (triage_nurse, ward emergency): payload
  ``{"vitals": {TriageInput fields}, "esi"?: 1-5, "override_reason"?: text}``. Without ``esi``
  the suggestion is confirmed; an ``esi`` that differs from the suggestion needs a reason (422).
* ``rapid-response`` (attending_physician): opened when NEWS2 ≥ 7, due within
  ``rapid_response_ack_seconds``; payload ``{"eta_minutes"?: n}``. Unacknowledged by its deadline it
  escalates once: a second task (``escalation_level`` 2) for every attending, the first stays open.

Re-assessment tasks open at the interval of ``workflows.triage_rules.reassessment_interval`` after
each completed assessment, until an attending reports the patient seen (``physician_seen`` update).
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from activities.triage import TriageActivities
    from workflows import search_attributes as sa
    from workflows import triage_rules as rules
    from workflows.contracts import (
        AuditContext,
        RegisterPatientInput,
        TaskCompletion,
        TaskCompletionResult,
        TaskRecord,
    )
    from workflows.options import STORAGE
    from workflows.triage_contracts import (
        AssessInput,
        LinkAdmission,
        LinkEncounterInput,
        PhysicianSeen,
        RecordAssessmentInput,
        TriageAssessmentSummary,
        TriageCarryOver,
        TriageState,
        TriageWorkflowInput,
    )
    from workflows.triage_tasks import TaskInbox

INFERENCE = {"start_to_close_timeout": timedelta(seconds=20),
             "retry_policy": STORAGE["retry_policy"]}
ASSESS_TYPES = ("triage", "triage-reassessment")


@workflow.defn(name="TriageWorkflow")
class TriageWorkflow(TaskInbox):
    def __init__(self) -> None:
        super().__init__()
        self._inp: TriageWorkflowInput | None = None
        self._state: TriageState | None = None
        self._complaint: str | None = None
        self._seen = False
        self._wake = False
        self._busy = False
        self._rapid_deadline = None

    @workflow.run
    async def run(self, inp: TriageWorkflowInput) -> TriageState:
        self._inp = inp
        state = self._state = TriageState(triage_id=inp.triage_id, patient_id=inp.patient_id,
                                          journey_id=inp.journey_id or workflow.info().workflow_id,
                                          priority=inp.priority, encounter_id=inp.encounter_id,
                                          intake_id=inp.intake_id)
        try:
            if inp.carry is None:
                await self._begin(inp, state)
            else:
                self._restore(inp.carry)
            await workflow.wait_condition(lambda: state.esi is not None)
            await self._monitor(state)
        except asyncio.CancelledError:
            # Discharge (or an operator) cancelled the stage: open work must not linger in the inbox.
            state.status = "cancelled"
            await self._close_open("cancelled", None)
            raise
        state.status = "completed"
        state.next_reassessment_at = None
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    async def _begin(self, inp: TriageWorkflowInput, state: TriageState) -> None:
        if inp.patient is not None:
            reg = await workflow.execute_activity_method(
                AdmissionActivities.register_patient,
                RegisterPatientInput(audit=self._audit(inp.requested_by), patient_id=inp.patient_id,
                                     patient=inp.patient), **STORAGE)
            state.patient_id = reg.patient_id
        workflow.upsert_search_attributes([sa.STAGE.value_set("triage")])
        now = workflow.now()
        urgent = inp.priority == "urgent"
        details: dict[str, object] = {"triage_id": inp.triage_id, "kind": "initial", "priority": inp.priority}
        if inp.intake_id:
            details.update(intake_id=inp.intake_id, intake_esi_suggested=inp.intake_esi,
                           intake_red_flags=list(inp.intake_red_flags), complaint_category=inp.complaint_category)
        await self._open_task(self._task(f"triage-{inp.triage_id}", "triage", "triage_nurse",
                                         now + timedelta(minutes=2 if urgent else 10), details))

    async def _monitor(self, state: TriageState) -> None:
        """Open re-assessments and escalate rapid responses on durable timers until the patient is seen."""
        while not self._seen:
            await workflow.wait_condition(lambda: not self._busy)
            if workflow.info().is_continue_as_new_suggested() and not self._busy:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carry_over())
            deadlines = [d for d in (state.next_reassessment_at, self._rapid_deadline) if d is not None]
            timeout = min(deadlines) - workflow.now() if deadlines else None
            if timeout is None or timeout > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self._seen or self._wake, timeout=timeout)
                except TimeoutError:
                    pass
            self._wake = False
            if self._seen or self._busy:
                continue  # the loop waits for the completion in progress first
            now = workflow.now()
            if self._rapid_deadline is not None and now >= self._rapid_deadline:
                await self._escalate()
            if state.next_reassessment_at is not None and now >= state.next_reassessment_at:
                state.next_reassessment_at = None
                n = sum(1 for t in self._tasks.values() if t.type == "triage-reassessment") + 1
                await self._open_task(self._task(
                    f"triage-{self._inp_().triage_id}-reassess-{n}", "triage-reassessment", "triage_nurse",
                    now + timedelta(minutes=5),
                    {"triage_id": self._inp_().triage_id, "kind": "reassessment", "esi": state.esi,
                     "news2_band": state.news2_band}))

    # --- updates -------------------------------------------------------------------------------

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """Record an assessment (triage, re-assessment) or acknowledge a rapid response."""
        task = self._tasks[done.task_id]
        if task.type == "rapid-response":
            for other in self._open_of("rapid-response"):
                await self._close_task(other, "completed" if other.id == task.id else "cancelled", done.actor)
            self._rapid_deadline = None
            self._require_state().rapid_response = "acknowledged"
            return TaskCompletionResult(task_id=task.id, status="completed",
                                        result={"rapid_response": "acknowledged"})
        self._busy = True
        try:
            return await self._assess(task, done)
        finally:
            self._busy = False
            self._wake = True

    @complete_task.validator
    def _validate_completion(self, done: TaskCompletion) -> None:
        task = self._tasks.get(done.task_id)
        if task is None:
            raise ApplicationError(f"task {done.task_id} is not open in this triage", type="TaskNotFound")
        if task.status != "open":
            raise ApplicationError(f"task {done.task_id} is already {task.status}", type="TaskNotOpen")
        if done.role != task.role:
            raise ApplicationError(f"task {done.task_id} is for the {task.role} role", type="WrongRole")
        try:
            if task.type == "rapid-response":
                rules.check_ack_payload(done.payload)
                return
            if self._busy:
                raise ApplicationError(f"task {done.task_id} is being completed", type="TaskNotOpen")
            rules.parse_triage_payload(done.payload, known_age=self._inp_().age, known_complaint=self._complaint)
        except rules.InvalidPayload as exc:
            raise ApplicationError(str(exc), type="InvalidTaskPayload") from exc

    @workflow.update
    async def physician_seen(self, seen: PhysicianSeen) -> TriageState:
        """The attending has seen the patient: re-assessments stop, open triage alarms stand down."""
        state = self._require_state()
        self._seen = True
        state.physician_seen_by, state.physician_seen_at = seen.actor, workflow.now()
        state.next_reassessment_at = None
        for task in self._open_of("triage-reassessment"):
            await self._close_task(task, "cancelled", seen.actor)
        for task in self._open_of("rapid-response"):
            await self._close_task(task, "completed", seen.actor)
            state.rapid_response = "acknowledged"
        self._rapid_deadline = None
        self._wake = True
        return state

    @physician_seen.validator
    def _validate_seen(self, seen: PhysicianSeen) -> None:
        if seen.role != "attending_physician":
            raise ApplicationError("only an attending physician reports the patient seen", type="WrongRole")
        if self._seen:
            raise ApplicationError("the patient was already seen by a physician", type="AlreadySeen")

    @workflow.update
    async def link_admission(self, link: LinkAdmission) -> TriageState:
        """An ED arrival was admitted: its triage record and further tasks join that journey."""
        state, inp = self._require_state(), self._inp_()
        await workflow.execute_activity_method(
            TriageActivities.link_encounter,
            LinkEncounterInput(audit=self._audit(link.actor), triage_id=inp.triage_id, patient_id=state.patient_id,
                               encounter_id=link.encounter_id), **STORAGE)
        state.journey_id, state.encounter_id = link.journey_id, link.encounter_id
        for task in [t for t in self._tasks.values() if t.status == "open"]:
            task.journey_id, task.encounter_id = link.journey_id, link.encounter_id
            await self._upsert(task)
        return state

    @link_admission.validator
    def _validate_link(self, link: LinkAdmission) -> None:
        if not link.journey_id.startswith("journey-") or not link.encounter_id:
            raise ApplicationError("journey_id: a journey id (journey-…) with its encounter", type="InvalidLink")
        state = self._require_state()
        if state.encounter_id not in (None, link.encounter_id):
            raise ApplicationError("this triage already belongs to another stay", type="AlreadyLinked")

    @workflow.query
    def state(self) -> TriageState:
        state = self._require_state()
        state.open_tasks = sorted(t.id for t in self._tasks.values() if t.status == "open")
        return state

    # --- steps ---------------------------------------------------------------------------------

    async def _assess(self, task: TaskRecord, done: TaskCompletion) -> TaskCompletionResult:
        state, inp = self._require_state(), self._inp_()
        parsed = rules.parse_triage_payload(done.payload, known_age=inp.age, known_complaint=self._complaint)
        scored = await workflow.execute_activity_method(TriageActivities.assess, AssessInput(vitals=parsed.vitals),
                                                        **INFERENCE)
        try:
            esi, overridden = rules.final_esi(scored.esi_suggested, parsed.esi, parsed.override_reason)
        except rules.InvalidPayload as exc:
            raise ApplicationError(str(exc), type="InvalidTaskPayload") from exc
        seq, now = len(state.assessments), workflow.now()
        kind = "initial" if task.type == "triage" else "reassessment"
        await workflow.execute_activity_method(TriageActivities.record_assessment, RecordAssessmentInput(
            audit=self._audit(done.actor), assessment_id=f"{inp.triage_id}-{seq}", triage_id=inp.triage_id,
            patient_id=state.patient_id, sequence=seq, kind=kind, vitals=parsed.vitals, news2=scored.news2,
            news2_band=scored.news2_band, esi_suggested=scored.esi_suggested, esi_final=esi,
            red_flags=scored.red_flags, model_version=scored.model_version, assessed_by=done.actor,
            assessed_at=now, encounter_id=state.encounter_id,
            override_reason=parsed.override_reason if overridden else None), **STORAGE)
        state.assessments.append(TriageAssessmentSummary(
            sequence=seq, kind=kind, news2=scored.news2, news2_band=scored.news2_band,
            esi_suggested=scored.esi_suggested, esi_final=esi, assessed_by=done.actor, assessed_at=now,
            red_flags=scored.red_flags, overridden=overridden))
        self._complaint = parsed.vitals["complaint"]
        state.esi, state.news2, state.news2_band, state.status = esi, scored.news2, scored.news2_band, "monitoring"
        interval = rules.reassessment_interval(esi, scored.news2_band)
        state.reassessment_interval_seconds = int(interval.total_seconds())
        state.next_reassessment_at = None if self._seen else now + interval
        await self._close_task(task, "completed", done.actor)
        workflow.upsert_search_attributes([sa.ACUITY.value_set(f"ESI-{esi}")])
        if rules.needs_rapid_response(scored.news2) and not self._seen and not self._open_of("rapid-response"):
            await self._open_rapid(scored.news2, scored.news2_band)
        return TaskCompletionResult(task_id=task.id, status="completed", result={
            "news2": scored.news2, "news2_band": scored.news2_band, "esi_suggested": scored.esi_suggested,
            "esi_final": esi, "overridden": overridden, "red_flags": scored.red_flags,
            "reassessment_interval_minutes": state.reassessment_interval_seconds // 60,
            "rapid_response": state.rapid_response})

    async def _open_rapid(self, news2: int, band: str) -> None:
        state, inp = self._require_state(), self._inp_()
        n = sum(1 for t in self._tasks.values() if t.type == "rapid-response" and t.details.get("escalation_level") == 1)
        now = workflow.now()
        due = now + timedelta(seconds=inp.rapid_response_ack_seconds)
        await self._open_task(self._task(f"rapid-response-{inp.triage_id}-{n + 1}", "rapid-response",
                                         "attending_physician", due,
                                         {"triage_id": inp.triage_id, "news2": news2, "news2_band": band,
                                          "escalation_level": 1, "attending": inp.attending}))
        self._rapid_deadline = due
        state.rapid_response = "open"

    async def _escalate(self) -> None:
        state, inp = self._require_state(), self._inp_()
        self._rapid_deadline = None
        first = self._open_of("rapid-response")
        if not first:
            return
        now = workflow.now()
        await self._open_task(self._task(
            f"{first[0].id}-escalation", "rapid-response", "attending_physician",
            now + timedelta(seconds=inp.rapid_response_ack_seconds),
            {"triage_id": inp.triage_id, "news2": state.news2, "news2_band": state.news2_band,
             "escalation_level": 2, "escalated_from": first[0].id, "attending": None}))
        state.rapid_response = "escalated"

    def _carry_over(self) -> TriageWorkflowInput:
        state, inp = self._require_state(), self._inp_()
        carry = TriageCarryOver(assessments=state.assessments, tasks=list(self._tasks.values()),
                                complaint=self._complaint or "", next_reassessment_at=state.next_reassessment_at,
                                rapid_response=state.rapid_response, rapid_deadline=self._rapid_deadline)
        return TriageWorkflowInput(**{**inp.__dict__, "patient_id": state.patient_id, "patient": None,
                                      "journey_id": state.journey_id, "encounter_id": state.encounter_id,
                                      "carry": carry})

    def _restore(self, carry: TriageCarryOver) -> None:
        state = self._require_state()
        state.assessments = list(carry.assessments)
        self._tasks = {t.id: t for t in carry.tasks}
        self._complaint = carry.complaint or None
        state.next_reassessment_at, state.rapid_response = carry.next_reassessment_at, carry.rapid_response
        self._rapid_deadline = carry.rapid_deadline
        if state.assessments:
            last = state.assessments[-1]
            state.esi, state.news2, state.news2_band, state.status = (last.esi_final, last.news2, last.news2_band,
                                                                      "monitoring")
            state.reassessment_interval_seconds = int(
                rules.reassessment_interval(last.esi_final, last.news2_band).total_seconds())

    def _task(self, task_id: str, ttype: str, role: str, due, details: dict) -> TaskRecord:  # noqa: ANN001
        state, inp = self._require_state(), self._inp_()
        return TaskRecord(id=task_id, type=ttype, role=role, patient_id=state.patient_id,
                          journey_id=state.journey_id, workflow_id=workflow.info().workflow_id,
                          created_at=workflow.now(), ward=inp.ward, encounter_id=state.encounter_id, due=due,
                          details=details)

    def _audit(self, actor: str) -> AuditContext:
        return AuditContext(journey_id=self._require_state().journey_id, requested_by=actor)

    def _inp_(self) -> TriageWorkflowInput:
        if self._inp is None:
            raise ApplicationError("triage has not started", type="NotStarted")
        return self._inp

    def _require_state(self) -> TriageState:
        if self._state is None:
            raise ApplicationError("triage has not started", type="NotStarted")
        return self._state

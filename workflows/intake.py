"""IntakeWorkflow: a conversational pre-triage intake, one ``answer`` update per answer.

The complaint picks a category of the question bank (``workflows.intake_questions``); each
answer is checked by the update validator (a bad answer is refused before it touches
history), screened for red flags by an activity (the triage model's lexicon plus the
bank's single-answer rules), saved to the draft, and answered with the next question.
A red flag ends the intake at once. However it ends (complete, red flag, idle timeout),
the intake starts the patient's triage, ``TriageWorkflow`` id ``triage-<intake id>``, whose
task references the draft by id (``intake_id``) and is urgent (due in 2 minutes) after a
red flag. The triage outlives the intake (parent close policy ABANDON).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from activities.triage import IntakeActivities
    from workflows import intake_questions as bank
    from workflows.contracts import AuditContext, RegisterPatientInput
    from workflows.options import STORAGE
    from workflows.triage import TriageWorkflow
    from workflows.triage_contracts import (
        IntakeAnswer,
        IntakeInput,
        IntakeQuestion,
        IntakeScreenInput,
        IntakeState,
        IntakeStep,
        SaveDraftInput,
        TriageWorkflowInput,
    )

SCREEN = {"start_to_close_timeout": timedelta(seconds=10), "retry_policy": STORAGE["retry_policy"]}


def _question(q: bank.Question | None) -> IntakeQuestion | None:
    if q is None:
        return None
    return IntakeQuestion(id=q.id, text=q.text, kind=q.kind, options=list(q.options), minimum=q.minimum,
                          maximum=q.maximum)


@workflow.defn(name="IntakeWorkflow")
class IntakeWorkflow:
    def __init__(self) -> None:
        self._inp: IntakeInput | None = None
        self._patient_id = ""
        self._category = "general"
        self._answers: dict[str, Any] = {}
        self._step: IntakeStep | None = None
        self._busy = False
        self._last_answer = 0

    @workflow.run
    async def run(self, inp: IntakeInput) -> IntakeState:
        self._inp, self._patient_id = inp, inp.patient_id
        self._category = bank.categorise(inp.complaint)
        if inp.patient is not None:
            reg = await workflow.execute_activity_method(
                AdmissionActivities.register_patient,
                RegisterPatientInput(audit=self._audit(inp.requested_by), patient_id=inp.patient_id,
                                     patient=inp.patient), **STORAGE)
            self._patient_id = reg.patient_id
        await self._screen_and_save(inp.requested_by)
        while self._step is not None and self._step.status == "in-progress":
            seen = self._last_answer
            try:
                await workflow.wait_condition(lambda seen=seen: self._last_answer != seen and not self._busy,
                                              timeout=timedelta(seconds=inp.idle_timeout_seconds))
            except TimeoutError:
                if not self._busy:
                    self._step.status, self._step.question = "timed-out", None
                    await self._save(inp.requested_by)
        await workflow.wait_condition(lambda: not self._busy)
        step = self._require_step()
        if inp.start_triage:
            await workflow.start_child_workflow(
                TriageWorkflow.run,
                TriageWorkflowInput(
                    triage_id=inp.intake_id, patient_id=self._patient_id, requested_by=inp.requested_by,
                    ward=inp.ward, age=inp.age, intake_id=inp.intake_id, intake_esi=step.esi_suggested,
                    intake_red_flags=list(step.red_flags), complaint_category=self._category,
                    priority="urgent" if step.status == "red-flag" else "routine"),
                id=f"triage-{inp.intake_id}", parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=workflow.info().typed_search_attributes)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    @workflow.update
    async def answer(self, answer: IntakeAnswer) -> IntakeStep:
        """Record one answer and return the next question, or how the intake ended."""
        # An answer may arrive before the complaint has been screened: wait for the first step.
        await workflow.wait_condition(lambda: self._step is not None and not self._busy)
        step = self._require_step()
        q = bank.next_question(self._category, self._answers)
        if step.status != "in-progress" or q is None:
            raise ApplicationError(f"the intake has ended ({step.status})", type="IntakeClosed")
        self._busy = True
        try:
            self._answers[q.id] = bank.check_answer(q, answer.value)
            await self._screen_and_save(answer.actor)
        finally:
            self._busy = False
            self._last_answer += 1
        return step

    @answer.validator
    def _validate_answer(self, answer: IntakeAnswer) -> None:
        step = self._step
        if step is not None and step.status != "in-progress":
            raise ApplicationError(f"the intake has ended ({step.status})", type="IntakeClosed")
        if self._busy:
            raise ApplicationError("the previous answer is still being recorded", type="IntakeBusy")
        q = bank.next_question(self._category, self._answers)
        if q is None:
            raise ApplicationError("the intake has no open question", type="IntakeClosed")
        if answer.question_id is not None and answer.question_id != q.id:
            raise ApplicationError(f"question_id: the open question is {q.id!r}", type="InvalidAnswer")
        try:
            bank.check_answer(q, answer.value)
        except bank.InvalidAnswer as exc:
            raise ApplicationError(str(exc), type="InvalidAnswer") from exc

    @workflow.query
    def state(self) -> IntakeState:
        inp = self._require_input()
        step = self._step or IntakeStep(intake_id=inp.intake_id, status="starting")
        return IntakeState(intake_id=step.intake_id, patient_id=self._patient_id, status=step.status,
                           category=self._category, step=step, answers=dict(self._answers))

    async def _screen_and_save(self, actor: str) -> None:
        inp = self._require_input()
        screen = await workflow.execute_activity_method(
            IntakeActivities.screen,
            IntakeScreenInput(complaint=inp.complaint, category=self._category, answers=dict(self._answers)),
            **SCREEN)
        nxt = bank.next_question(self._category, self._answers)
        status = "red-flag" if screen.red_flags else ("in-progress" if nxt is not None else "completed")
        step = self._step or IntakeStep(intake_id=inp.intake_id, status=status)
        step.status, step.red_flags, step.esi_suggested = status, screen.red_flags, screen.esi_suggested
        step.question = _question(nxt) if status == "in-progress" else None
        step.triage_id = inp.intake_id if inp.start_triage and status != "in-progress" else None
        step.answered = len(self._answers)
        self._step = step
        await self._save(actor)

    async def _save(self, actor: str) -> None:
        inp, step = self._require_input(), self._require_step()
        if step.status != "in-progress" and inp.start_triage:
            step.triage_id = inp.intake_id
        await workflow.execute_activity_method(IntakeActivities.save_draft, SaveDraftInput(
            audit=self._audit(actor), intake_id=inp.intake_id, patient_id=self._patient_id, status=step.status,
            complaint=inp.complaint, category=self._category, answers=dict(self._answers),
            red_flags=list(step.red_flags), esi_suggested=step.esi_suggested, updated_at=workflow.now(),
            triage_id=step.triage_id), **STORAGE)

    def _audit(self, actor: str) -> AuditContext:
        return AuditContext(journey_id=workflow.info().workflow_id, requested_by=actor)

    def _require_input(self) -> IntakeInput:
        if self._inp is None:
            raise ApplicationError("intake has not started", type="NotStarted")
        return self._inp

    def _require_step(self) -> IntakeStep:
        if self._step is None:
            raise ApplicationError("intake has not started", type="NotStarted")
        return self._step

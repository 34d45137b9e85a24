"""CorrectionRequest: a patient's request to correct their demographics, decided by registration.

Started by ``POST /api/v1/patients/{id}/corrections`` (id ``correction-<request id>``) once
the request is stored. It opens a ``demographics-correction`` task for the
registration_clerk role; the clerk completes it through the task API with
``{"decision": "accepted"|"rejected", "reason"?}`` (a reason is required to reject, so
the patient learns why). The decision is recorded with the request and in the ledger;
the demographics are never changed here: an accepted correction is applied by the
clerk through normal registration.
"""
from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.correction import CorrectionActivities
    from workflows.contracts import AuditContext, TaskCompletion, TaskCompletionResult
    from workflows.correction_contracts import (
        DECISIONS,
        CorrectionDecision,
        CorrectionRequestInput,
        CorrectionState,
    )
    from workflows.options import STORAGE
    from workflows.task_book import TaskBook, invalid, only_fields

TASK = "demographics-correction"
ROLE = "registration_clerk"


@workflow.defn(name="CorrectionRequest")
class CorrectionRequest:
    def __init__(self) -> None:
        self._inp: CorrectionRequestInput | None = None
        self._state: CorrectionState | None = None
        self._book = TaskBook()

    @workflow.run
    async def run(self, inp: CorrectionRequestInput) -> CorrectionState:
        self._inp = inp
        state = self._state = CorrectionState(request_id=inp.request_id)
        await self._book.open(task_id=f"{TASK}-{inp.request_id}", type=TASK, role=ROLE, patient_id=inp.patient_id,
                              journey_id=workflow.info().workflow_id, encounter_id=None, ward=None,
                              due_minutes=inp.due_minutes, details={"request_id": inp.request_id, "field": inp.field})
        await workflow.wait_condition(lambda: state.status != "open")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """The clerk's decision: ``{"decision": "accepted"|"rejected", "reason"?}``."""
        task = self._book.claim(done)
        inp = self._require_input()
        decision, at = str(done.payload["decision"]), workflow.now()
        await workflow.execute_activity_method(
            CorrectionActivities.decide_correction,
            CorrectionDecision(audit=AuditContext(journey_id=workflow.info().workflow_id, requested_by=done.actor,
                                                  purpose="PATRQT"),
                               request_id=inp.request_id, patient_id=inp.patient_id, decision=decision,
                               by=done.actor, at=at, reason=done.payload.get("reason")), **STORAGE)
        await self._book.complete(task, done.actor)
        state = self._require_state()
        state.status, state.decided_by, state.decided_at = decision, done.actor, at
        return TaskCompletionResult(task_id=task.id, status="completed",
                                    result={"request_id": inp.request_id, "decision": decision})

    @complete_task.validator
    def _validate_decision(self, done: TaskCompletion) -> None:
        self._book.require_open(done)
        p: dict[str, Any] = done.payload
        only_fields(p, {"decision", "reason"})
        if p.get("decision") not in DECISIONS:
            raise invalid(f"payload.decision: one of {', '.join(DECISIONS)}")
        reason = p.get("reason")
        if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > 500):
            raise invalid("payload.reason: text of 1 to 500 characters")
        if p["decision"] == "rejected" and reason is None:
            raise invalid("payload.reason: say why the correction is rejected")

    @workflow.query
    def state(self) -> CorrectionState:
        state = self._require_state()
        state.open_tasks = self._book.open_ids()
        return state

    def _require_input(self) -> CorrectionRequestInput:
        if self._inp is None:
            raise ApplicationError("request has not started", type="NotStarted")
        return self._inp

    def _require_state(self) -> CorrectionState:
        if self._state is None:
            raise ApplicationError("request has not started", type="NotStarted")
        return self._state

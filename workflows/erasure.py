"""ErasureWorkflow: a patient's erasure request under the DPDP Act, honoured by crypto-shredding.

Started by ``POST /api/v1/patients/{id}/erasure`` (the patient, or a compliance officer
on their behalf; id ``erasure-<patient id>``). The hospital's checks run first: the
record exists and is not erased yet, the patient has no active encounter, and no legal
retention hold is in place; any of them refuses the request with its reason. Otherwise
a compliance officer approves or rejects it through an approval task (never the officer
who filed it), escalated when overdue like a break-glass review. On approval the checks
run again and the patient's data key is destroyed: their encrypted fields become
unreadable while the audit ledger (ids and hashes only) keeps verifying.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.erasure import ErasureActivities
    from workflows.contracts import AuditContext, TaskCompletion, TaskCompletionResult
    from workflows.erasure_contracts import (
        DECISIONS,
        FINAL,
        ErasureCheck,
        ErasureInput,
        ErasureRecord,
        ErasureState,
        ShredRequest,
    )
    from workflows.options import STORAGE
    from workflows.task_book import TaskBook, invalid, only_fields

APPROVAL = "erasure-approval"


def erasure_workflow_id(patient_id: str) -> str:
    return f"erasure-{patient_id}"


@workflow.defn(name="ErasureWorkflow")
class ErasureWorkflow:
    def __init__(self) -> None:
        self._inp: ErasureInput | None = None
        self._state: ErasureState | None = None
        self._book = TaskBook()
        self._decision: str | None = None

    @workflow.run
    async def run(self, inp: ErasureInput) -> ErasureState:
        self._inp = inp
        state = self._state = ErasureState(erasure_id=inp.erasure_id, patient_id=inp.patient_id)
        check = await workflow.execute_activity_method(
            ErasureActivities.check_erasure, ErasureCheck(audit=self._audit(inp.requested_by),
                                                          erasure_id=inp.erasure_id, patient_id=inp.patient_id),
            **STORAGE)
        if check.blockers:
            return await self._finish("refused", check.blockers, inp.requested_by)
        state.status = "awaiting-approval"
        await self._await_decision(inp)
        approver = state.decided_by or "hms-worker"
        if self._decision != "approve":
            return await self._finish("rejected", [f"rejected by {approver}"], approver)
        await self._record("approved", approver)
        shred = await workflow.execute_activity_method(
            ErasureActivities.shred_patient_key,
            ShredRequest(audit=self._audit(approver), erasure_id=inp.erasure_id, patient_id=inp.patient_id,
                         at=workflow.now()), **STORAGE)
        if not shred.erased:
            return await self._finish("refused", shred.blockers, approver)
        state.status, state.erased_at = "erased", workflow.now()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    async def _await_decision(self, inp: ErasureInput) -> None:
        state = self._require_state()
        due = inp.approval_due_minutes
        while True:
            task_id = f"{APPROVAL}-{inp.erasure_id}" + (f"-e{state.escalations}" if state.escalations else "")
            await self._book.open(task_id=task_id, type=APPROVAL, role="compliance_officer",
                                  patient_id=inp.patient_id, journey_id=workflow.info().workflow_id,
                                  encounter_id=None, ward=None, due_minutes=due,
                                  details={"erasure_id": inp.erasure_id, "grounds": inp.grounds,
                                           "requested_by": inp.requested_by, "requester_role": inp.requester_role,
                                           "escalation": state.escalations})
            if state.escalations >= inp.max_escalations:
                await workflow.wait_condition(lambda: self._decision is not None)
                return
            try:
                await workflow.wait_condition(lambda: self._decision is not None, timeout=timedelta(minutes=due))
                return
            except TimeoutError:
                pass
            if task_id in self._book.completing:  # a decision is being recorded right now
                await workflow.wait_condition(lambda: self._decision is not None)
                return
            await self._book.close(self._book.tasks[task_id], "escalated", None)
            state.escalations += 1
            due = inp.escalation_due_minutes
            await self._record("escalated", "hms-worker")

    async def _finish(self, status: str, reasons: list[str], actor: str) -> ErasureState:
        state = self._require_state()
        await self._record(status, actor)
        state.status, state.reasons = status, list(reasons)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    async def _record(self, status: str, actor: str) -> None:
        inp = self._require_input()
        await workflow.execute_activity_method(
            ErasureActivities.record_erasure, ErasureRecord(audit=self._audit(actor), erasure_id=inp.erasure_id,
                                                            patient_id=inp.patient_id, status=status), **STORAGE)

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """The compliance officer's decision ``{"decision": "approve"|"reject", "comment"?}``; answers the outcome."""
        task = self._book.claim(done)
        state = self._require_state()
        state.decided_by, state.decided_at = done.actor, workflow.now()
        state.comment = done.payload.get("comment")
        await self._book.complete(task, done.actor)
        self._decision = str(done.payload["decision"])
        await workflow.wait_condition(lambda: state.status in FINAL)
        return TaskCompletionResult(task_id=task.id, status="completed",
                                    result={"decision": self._decision, "status": state.status,
                                            "reasons": list(state.reasons)})

    @complete_task.validator
    def _validate_decision(self, done: TaskCompletion) -> None:
        self._book.require_open(done)
        p: dict[str, Any] = done.payload
        only_fields(p, {"decision", "comment"})
        if p.get("decision") not in DECISIONS:
            raise invalid(f"payload.decision: one of {', '.join(DECISIONS)}")
        comment = p.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 500):
            raise invalid("payload.comment: text of at most 500 characters")
        if done.actor == self._require_input().requested_by:
            raise ApplicationError("an erasure request is approved by a compliance officer other than its "
                                   "requester", type="NotAssignee")

    @workflow.query
    def state(self) -> ErasureState:
        state = self._require_state()
        state.open_tasks = self._book.open_ids()
        return state

    def _audit(self, actor: str) -> AuditContext:
        return AuditContext(journey_id=workflow.info().workflow_id, requested_by=actor, purpose="HCOMPL")

    def _require_input(self) -> ErasureInput:
        if self._inp is None:
            raise ApplicationError("erasure has not started", type="NotStarted")
        return self._inp

    def _require_state(self) -> ErasureState:
        if self._state is None:
            raise ApplicationError("erasure has not started", type="NotStarted")
        return self._state

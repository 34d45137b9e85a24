"""BreakGlassReview: every emergency access grant is reviewed by a compliance officer.

Started by ``POST /api/v1/break-glass`` (id ``break-glass-<grant id>``). The grant
lasts until it expires or is revoked (``revoke`` update, by its holder or a
compliance officer); then a review task opens for the compliance_officer role so
the whole window of use is reviewed at once. A review not done by its deadline is
escalated: the overdue task is closed as escalated and a new one opens with a
shorter deadline, up to ``max_escalations`` times. The review records
``appropriate`` or ``inappropriate``; the ledger has an entry for each step.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.break_glass import BreakGlassActivities
    from workflows.break_glass_contracts import (
        OUTCOMES,
        BreakGlassReviewInput,
        BreakGlassReviewState,
        GrantEnd,
        ReviewRecord,
        RevokeRequest,
    )
    from workflows.contracts import AuditContext, TaskCompletion, TaskCompletionResult
    from workflows.options import STORAGE
    from workflows.task_book import TaskBook, invalid, only_fields

REVIEW = "break-glass-review"


@workflow.defn(name="BreakGlassReview")
class BreakGlassReview:
    def __init__(self) -> None:
        self._inp: BreakGlassReviewInput | None = None
        self._state: BreakGlassReviewState | None = None
        self._book = TaskBook()
        self._revoke: RevokeRequest | None = None
        self._reviewed = False

    @workflow.run
    async def run(self, inp: BreakGlassReviewInput) -> BreakGlassReviewState:
        self._inp = inp
        state = self._state = BreakGlassReviewState(grant_id=inp.grant_id)
        remaining = inp.expires_at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._revoke is not None, timeout=remaining)
            except TimeoutError:
                pass
        revoked_by = self._revoke.by if self._revoke else None
        ended_at = workflow.now()
        await workflow.execute_activity_method(
            BreakGlassActivities.end_break_glass,
            GrantEnd(audit=self._audit(revoked_by or "hms-worker"), grant_id=inp.grant_id,
                     patient_id=inp.patient_id, at=ended_at, revoked_by=revoked_by), **STORAGE)
        state.status, state.ended_at, state.revoked_by = "ended", ended_at, revoked_by
        await self._review(inp)
        state.status = "reviewed"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    async def _review(self, inp: BreakGlassReviewInput) -> None:
        state = self._require_state()
        due = inp.review_due_minutes
        while True:
            task_id = f"{REVIEW}-{inp.grant_id}" + (f"-e{state.escalations}" if state.escalations else "")
            await self._book.open(task_id=task_id, type=REVIEW, role="compliance_officer",
                                  patient_id=inp.patient_id, journey_id=workflow.info().workflow_id,
                                  encounter_id=None, ward=inp.ward, due_minutes=due,
                                  details={"grant_id": inp.grant_id, "holder": inp.user_id, "holder_role": inp.role,
                                           "escalation": state.escalations})
            if state.escalations >= inp.max_escalations:
                await workflow.wait_condition(lambda: self._reviewed)
                return
            try:
                await workflow.wait_condition(lambda: self._reviewed, timeout=timedelta(minutes=due))
                return
            except TimeoutError:
                pass
            task = self._book.tasks[task_id]
            if task_id in self._book.completing:  # a review is being recorded right now
                await workflow.wait_condition(lambda: self._reviewed)
                return
            await self._book.close(task, "escalated", None)
            state.escalations += 1
            due = inp.escalation_due_minutes
            await workflow.execute_activity_method(
                BreakGlassActivities.record_break_glass_review,
                ReviewRecord(audit=self._audit("hms-worker"), grant_id=inp.grant_id, patient_id=inp.patient_id,
                             status="escalated", at=workflow.now()), **STORAGE)

    @workflow.update
    async def revoke(self, request: RevokeRequest) -> BreakGlassReviewState:
        """End the grant now (its holder no longer needs it, or compliance withdraws it); returns once ended."""
        if self._revoke is None:
            self._revoke = request
        await workflow.wait_condition(lambda: self._require_state().status != "active")
        return self._require_state()

    @revoke.validator
    def _validate_revoke(self, request: RevokeRequest) -> None:
        if self._require_state().status != "active":
            raise ApplicationError(f"grant {self._require_input().grant_id} has already ended",
                                   type="GrantEnded")

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """The compliance officer's review: ``{"outcome": "appropriate"|"inappropriate"}``."""
        task = self._book.claim(done)
        inp = self._require_input()
        outcome = str(done.payload["outcome"])
        await workflow.execute_activity_method(
            BreakGlassActivities.record_break_glass_review,
            ReviewRecord(audit=self._audit(done.actor), grant_id=inp.grant_id, patient_id=inp.patient_id,
                         status="reviewed", at=workflow.now(), outcome=outcome, by=done.actor,
                         comment=done.payload.get("comment")), **STORAGE)
        await self._book.complete(task, done.actor)
        state = self._require_state()
        state.outcome, state.reviewed_by = outcome, done.actor
        self._reviewed = True
        return TaskCompletionResult(task_id=task.id, status="completed", result={"outcome": outcome})

    @complete_task.validator
    def _validate_review(self, done: TaskCompletion) -> None:
        self._book.require_open(done)
        p: dict[str, Any] = done.payload
        only_fields(p, {"outcome", "comment"})
        if p.get("outcome") not in OUTCOMES:
            raise invalid(f"payload.outcome: one of {', '.join(OUTCOMES)}")
        comment = p.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 500):
            raise invalid("payload.comment: text of at most 500 characters")

    @workflow.query
    def state(self) -> BreakGlassReviewState:
        state = self._require_state()
        state.open_tasks = self._book.open_ids()
        return state

    def _audit(self, actor: str) -> AuditContext:
        return AuditContext(journey_id=workflow.info().workflow_id, requested_by=actor, purpose="HCOMPL")

    def _require_input(self) -> BreakGlassReviewInput:
        if self._inp is None:
            raise ApplicationError("review has not started", type="NotStarted")
        return self._inp

    def _require_state(self) -> BreakGlassReviewState:
        if self._state is None:
            raise ApplicationError("review has not started", type="NotStarted")
        return self._state

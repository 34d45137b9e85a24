"""BreakGlassReview on the time-skipping server: expiry, the review deadline and its escalations."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.storage import security_repo
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from workflows.break_glass import BreakGlassReview
from workflows.break_glass_contracts import BreakGlassReviewInput
from workflows.contracts import TaskCompletion

pytestmark = pytest.mark.integration


async def start_review(env: WorkflowEnvironment, engine: sa.Engine, queue: str,
                       minutes: int = 60) -> tuple[BreakGlassReviewInput, WorkflowHandle]:
    grant_id, patient_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = await env.get_current_time()
    inp = BreakGlassReviewInput(grant_id=grant_id, patient_id=patient_id, user_id="attending-2",
                                role="attending_physician", ward="medical", expires_at=now + timedelta(minutes=minutes),
                                review_due_minutes=600, escalation_due_minutes=120, max_escalations=2)
    workflow_id = f"break-glass-{grant_id}"
    with make_session_factory(engine)() as s, s.begin():
        security_repo.add_grant(s, grant_id=grant_id, patient_id=patient_id, user_id="attending-2",
                                role="attending_physician", reason="unconscious patient, team unreachable",
                                created_at=now, expires_at=inp.expires_at, workflow_id=workflow_id)
    handle = await env.client.start_workflow(BreakGlassReview.run, inp, id=workflow_id, task_queue=queue)
    return inp, handle


def grant_row(engine: sa.Engine, grant_id: str) -> sa.Row:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT review_status, review_outcome, reviewed_by, revoked_at "
                                 "FROM hms.break_glass_grants WHERE id = :g"), {"g": grant_id}).one()


def task_statuses(engine: sa.Engine, grant_id: str) -> dict[str, str]:
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT id, status FROM hms.tasks WHERE id LIKE :p"),
                         {"p": f"break-glass-review-{grant_id}%"}).all()
    return {r.id: r.status for r in rows}


async def test_expiry_opens_the_review_and_an_overdue_review_escalates(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        inp, handle = await start_review(env, db_engine, task_queue)
        await env.sleep(30 * 60)
        assert (await handle.query(BreakGlassReview.state)).status == "active"
        assert task_statuses(db_engine, inp.grant_id) == {}  # the review waits for the whole window of use

        await env.sleep(31 * 60)  # past expiry: the review task opens, due in 10 h
        state = await handle.query(BreakGlassReview.state)
        first = f"break-glass-review-{inp.grant_id}"
        assert state.status == "ended" and state.revoked_by is None and state.open_tasks == [first]

        await env.sleep(10 * 3600 + 60)  # overdue: escalated to a fresh task with a 2 h deadline
        assert task_statuses(db_engine, inp.grant_id) == {first: "escalated", f"{first}-e1": "open"}
        assert grant_row(db_engine, inp.grant_id).review_status == "escalated"
        await env.sleep(2 * 3600 + 60)  # overdue again: the last escalation stays open without a deadline
        await env.sleep(48 * 3600)
        assert task_statuses(db_engine, inp.grant_id) == {first: "escalated", f"{first}-e1": "escalated",
                                                          f"{first}-e2": "open"}
        assert (await handle.query(BreakGlassReview.state)).escalations == 2

        await handle.execute_update(BreakGlassReview.complete_task, TaskCompletion(
            task_id=f"{first}-e2", actor="compliance-1", role="compliance_officer",
            payload={"outcome": "inappropriate", "comment": "no emergency documented"}))
        final = await handle.result()
    assert final.status == "reviewed" and final.outcome == "inappropriate" and final.reviewed_by == "compliance-1"
    row = grant_row(db_engine, inp.grant_id)
    assert (row.review_status, row.review_outcome, row.reviewed_by) == ("reviewed", "inappropriate", "compliance-1")
    subtypes = [e.event.subtype for e in ledger.query(patient_id=inp.patient_id)]
    assert subtypes.count("break-glass.escalated") == 2
    assert {"break-glass.expire", "break-glass.reviewed"} <= set(subtypes)


async def test_a_late_retry_never_reopens_a_finished_review(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        inp, handle = await start_review(env, db_engine, task_queue, minutes=5)
        await env.sleep(6 * 60)
        await handle.execute_update(BreakGlassReview.complete_task, TaskCompletion(
            task_id=f"break-glass-review-{inp.grant_id}", actor="compliance-1", role="compliance_officer",
            payload={"outcome": "appropriate"}))
        await handle.result()
    with make_session_factory(db_engine)() as s, s.begin():
        security_repo.record_review(s, inp.grant_id, status="escalated", outcome=None, by=None,
                                    at=await env.get_current_time())
    assert grant_row(db_engine, inp.grant_id).review_status == "reviewed"

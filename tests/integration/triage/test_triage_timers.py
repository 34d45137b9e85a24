"""TriageWorkflow on the time-skipping server and real PostgreSQL: timers by acuity, escalation, seen."""
from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.crypto.fields import ephemeral_cipher
from activities.storage import tasks as task_store
from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.triage.support import DETERIORATING, STABLE, arrival, triage_done
from workflows.contracts import TaskCompletion, TaskCompletionResult
from workflows.triage import TriageWorkflow
from workflows.triage_contracts import PhysicianSeen, TriageState

pytestmark = pytest.mark.integration


async def _state(handle: WorkflowHandle) -> TriageState:
    return await handle.query(TriageWorkflow.state)


async def _wait_open(handle: WorkflowHandle, task_id: str) -> None:
    for _ in range(300):
        if task_id in (await _state(handle)).open_tasks:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{task_id} never opened: {(await _state(handle)).open_tasks}")


async def _complete(handle: WorkflowHandle, done: TaskCompletion) -> TaskCompletionResult:
    return await handle.execute_update(TriageWorkflow.complete_task, done)


def _reassessments(state: TriageState) -> list[str]:
    return [t for t in state.open_tasks if "-reassess-" in t]


@pytest.mark.parametrize(("esi", "before", "after"), [(2, 14, 16), (3, 29, 31), (4, 59, 61)])
async def test_reassessment_timer_fires_by_acuity(time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                  ledger: EmbeddedLedger, task_queue: str, esi: int, before: int,
                                                  after: int) -> None:
    env, inp = time_skipping_env, arrival()
    async with journey_worker(env, db_engine, ledger, task_queue):
        handle = await env.client.start_workflow(TriageWorkflow.run, inp, id=f"triage-{inp.triage_id}",
                                                 task_queue=task_queue)
        await _wait_open(handle, f"triage-{inp.triage_id}")
        done = await _complete(handle, triage_done(inp.triage_id, STABLE, esi=esi, reason="clinical judgement"))
        assert done.result["esi_final"] == esi and done.result["rapid_response"] == "none"
        assert done.result["reassessment_interval_minutes"] == before + 1
        await env.sleep(before * 60)
        assert _reassessments(await _state(handle)) == []
        await env.sleep((after - before) * 60)
        await _wait_open(handle, f"triage-{inp.triage_id}-reassess-1")
        state = await _state(handle)
        assert _reassessments(state) == [f"triage-{inp.triage_id}-reassess-1"] and state.esi == esi
        await handle.execute_update(TriageWorkflow.physician_seen, PhysicianSeen("attending-1", "attending_physician"))
        await handle.result()
    with db_engine.connect() as c:
        rows = c.execute(sa.text("SELECT esi_final, esi_suggested, override_reason IS NOT NULL, kind "
                                 "FROM hms.triage_assessments WHERE triage_id = :t"), {"t": inp.triage_id}).all()
        vitals = c.execute(sa.text("SELECT values->>'respiratory_rate' FROM hms.vital_signs WHERE triage_id = :t"),
                           {"t": inp.triage_id}).scalars().all()
    assert len(rows) == 1 and rows[0][0] == esi and rows[0][3] == "initial"
    assert rows[0][2] == (rows[0][1] != esi)  # a reason is kept only when the suggestion was overridden
    assert vitals == ["16"]


async def test_rapid_response_escalates_when_not_acknowledged(time_skipping_env: WorkflowEnvironment,
                                                              db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                              task_queue: str) -> None:
    env, inp = time_skipping_env, arrival(ack_seconds=300)
    first, second = f"rapid-response-{inp.triage_id}-1", f"rapid-response-{inp.triage_id}-1-escalation"
    async with journey_worker(env, db_engine, ledger, task_queue):
        handle = await env.client.start_workflow(TriageWorkflow.run, inp, id=f"triage-{inp.triage_id}",
                                                 task_queue=task_queue)
        await _wait_open(handle, f"triage-{inp.triage_id}")
        done = await _complete(handle, triage_done(inp.triage_id, DETERIORATING))
        assert done.result["news2"] >= 7 and done.result["news2_band"] == "high"
        assert done.result["rapid_response"] == "open" and done.result["esi_final"] <= 2
        state = await _state(handle)
        assert first in state.open_tasks and second not in state.open_tasks
        await env.sleep(240)
        assert second not in (await _state(handle)).open_tasks
        await env.sleep(120)
        await _wait_open(handle, second)
        state = await _state(handle)
        assert state.rapid_response == "escalated" and first in state.open_tasks
        with pytest.raises(WorkflowUpdateFailedError):  # a nurse cannot acknowledge for the physician
            await _complete(handle, TaskCompletion(task_id=second, actor="triage-nurse-1", role="triage_nurse"))
        ack = await _complete(handle, TaskCompletion(task_id=second, actor="attending-2",
                                                     role="attending_physician", payload={"eta_minutes": 2}))
        assert ack.result == {"rapid_response": "acknowledged"}
        state = await _state(handle)
        assert first not in state.open_tasks and second not in state.open_tasks
        await handle.execute_update(TriageWorkflow.physician_seen, PhysicianSeen("attending-2", "attending_physician"))
        await handle.result()
    with db_engine.connect() as c:
        rows = dict(c.execute(sa.text("SELECT id, status FROM hms.tasks WHERE id IN (:a, :b)"),
                              {"a": first, "b": second}).all())
    with Session(db_engine) as s:  # the details as the inbox serves them (the clinical keys are sealed at rest)
        details = task_store.read_task(s, ephemeral_cipher(), second).details
    assert rows == {first: "cancelled", second: "completed"}
    assert details["escalation_level"] == 2 and details["escalated_from"] == first


async def test_physician_seen_stops_reassessment(time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                 ledger: EmbeddedLedger, task_queue: str) -> None:
    env, inp = time_skipping_env, arrival()
    async with journey_worker(env, db_engine, ledger, task_queue):
        handle = await env.client.start_workflow(TriageWorkflow.run, inp, id=f"triage-{inp.triage_id}",
                                                 task_queue=task_queue)
        await _wait_open(handle, f"triage-{inp.triage_id}")
        await _complete(handle, triage_done(inp.triage_id, STABLE, esi=2, reason="mechanism of injury"))
        await env.sleep(16 * 60)
        task = f"triage-{inp.triage_id}-reassess-1"
        await _wait_open(handle, task)
        redo = await _complete(handle, triage_done(inp.triage_id, {k: v for k, v in STABLE.items()
                                                                   if k != "complaint"}, esi=2,
                                                   reason="mechanism of injury", task_id=task))
        assert redo.result["news2"] == 0 and redo.result["esi_final"] == 2
        await env.sleep(16 * 60)
        await _wait_open(handle, f"triage-{inp.triage_id}-reassess-2")
        seen = await handle.execute_update(TriageWorkflow.physician_seen,
                                           PhysicianSeen("attending-1", "attending_physician"))
        assert seen.physician_seen_by == "attending-1" and seen.next_reassessment_at is None
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):  # refused, or the triage has already ended
            await handle.execute_update(TriageWorkflow.physician_seen,
                                        PhysicianSeen("attending-1", "attending_physician"))
        result = await handle.result()
        assert result.status == "completed" and [a.kind for a in result.assessments] == ["initial", "reassessment"]
    with db_engine.connect() as c:
        statuses = dict(c.execute(sa.text("SELECT id, status FROM hms.tasks WHERE workflow_id = :w"),
                                  {"w": f"triage-{inp.triage_id}"}).all())
    assert statuses == {f"triage-{inp.triage_id}": "completed", task: "completed",
                        f"triage-{inp.triage_id}-reassess-2": "cancelled"}

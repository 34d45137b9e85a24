"""SurgeWatch on the time-skipping server with the real database, and its hourly Schedule on the dev server."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.storage.db import make_session_factory
from activities.storage.models import Task
from activities.surge import SurgeActivities
from deploy.temporal_setup import ensure_surge_schedule
from workflows.surge import SurgeWatch
from workflows.surge_contracts import ALERT_TASK, SCHEDULE_ID, SurgeCheckInput, SurgeResult

pytestmark = pytest.mark.integration


class FlatForecast:
    """A forecast model stand-in: the same expected arrivals every hour, with one peak hour."""

    def __init__(self, expected: float, peak: float | None = None) -> None:
        self.expected, self.peak = expected, peak

    def forecast(self, history: Any, start: datetime, hours: int = 24) -> list[dict]:
        out = []
        for k in range(hours):
            e = self.peak if (self.peak is not None and k == 5) else self.expected
            out.append({"hour": (start + timedelta(hours=k)).isoformat(), "expected": e, "p10": e / 2, "p90": e * 1.5})
        return out


@asynccontextmanager
async def surge_worker(client: Client, engine: sa.Engine, task_queue: str, model: Any) -> AsyncIterator[Worker]:
    acts = SurgeActivities(make_session_factory(engine), SimpleNamespace(forecast=model)).all()
    async with Worker(client, task_queue=task_queue, workflows=[SurgeWatch], activities=acts,
                      activity_executor=ThreadPoolExecutor(4)) as worker:
        yield worker


async def run_check(client: Client, task_queue: str, start: datetime) -> SurgeResult:
    return await client.execute_workflow(SurgeWatch.run, SurgeCheckInput(start=start), id=f"surge-{uuid.uuid4()}",
                                         task_queue=task_queue, result_type=SurgeResult)


def surge_tasks(engine: sa.Engine) -> dict[str, Task]:
    with make_session_factory(engine)() as s:
        return {t.id: t for t in s.scalars(sa.select(Task).where(Task.type == ALERT_TASK))}


async def test_surge_opens_one_manager_task_then_resolves(time_skipping_env: WorkflowEnvironment,
                                                          db_engine: sa.Engine, task_queue: str) -> None:
    start = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(hours=uuid.uuid4().int % 10_000)
    async with surge_worker(time_skipping_env.client, db_engine, task_queue, FlatForecast(1.0, peak=500.0)):
        first = await run_check(time_skipping_env.client, task_queue, start)
        again = await run_check(time_skipping_env.client, task_queue, start)  # a re-run of the same hour
    assert first.assessment.exceeded and first.assessment.peak_expected == 500.0
    assert len(first.assessment.hours_over) == 1 and first.assessment.capacity_per_hour > 1.0
    assert first.alert_task_id == again.alert_task_id == f"{ALERT_TASK}-emergency-{start:%Y%m%d%H}"
    task = surge_tasks(db_engine)[first.alert_task_id]
    assert (task.status, task.role, task.ward_id, task.patient_id) == ("open", "manager", "emergency", "")
    assert task.details["peak_expected"] == 500.0 and task.details["hours_over"] == 1
    open_now = [t for t in surge_tasks(db_engine).values() if t.status == "open" and t.ward_id == "emergency"]
    assert [t.id for t in open_now] == [first.alert_task_id]

    async with surge_worker(time_skipping_env.client, db_engine, task_queue, FlatForecast(1.0)):
        calm = await run_check(time_skipping_env.client, task_queue, start + timedelta(hours=1))
    assert not calm.assessment.exceeded and calm.alert_task_id is None
    assert surge_tasks(db_engine)[first.alert_task_id].status == "resolved"


async def test_schedule_is_created_once_and_runs_surge_watch(temporal_env: WorkflowEnvironment,
                                                             task_queue: str) -> None:
    client = temporal_env.client
    try:
        assert await ensure_surge_schedule(client, task_queue) is True
        assert await ensure_surge_schedule(client, task_queue) is False  # idempotent at every worker start
        desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
        assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(hours=1)]
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "SurgeWatch"
        assert action.task_queue == task_queue
    finally:
        await client.get_schedule_handle(SCHEDULE_ID).delete()

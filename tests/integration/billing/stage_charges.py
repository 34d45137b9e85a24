"""Shared steps of the stage-billing tests: workers that lose or hold an activity, and the stored charges."""
from __future__ import annotations

import threading
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.registry import build_activities
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from ml.runtime import ModelRegistry
from workflows.payload_converter import data_converter
from workflows.registry import WORKFLOWS


def _worker_with(env: WorkflowEnvironment, engine: sa.Engine, ledger: EmbeddedLedger, queue: str,
                 models: ModelRegistry, name: str,
                 wrap: Callable[[Callable[[Any], Any], Any], Any]) -> Worker:
    """Every journey workflow and activity; activity ``name`` runs as ``wrap(real, inp)``."""
    acts = build_activities(make_session_factory(engine), ledger, models)
    real = next(a for a in acts if a.__temporal_activity_definition.name == name)  # type: ignore[attr-defined]

    def wrapped(inp):  # noqa: ANN001, ANN202 - typed below from the real activity
        return wrap(real, inp)

    wrapped.__annotations__ = typing.get_type_hints(real)
    return Worker(env.client, task_queue=queue, workflows=WORKFLOWS,
                  activities=[*(a for a in acts if a is not real), activity.defn(name=name)(wrapped)],
                  activity_executor=ThreadPoolExecutor(8))


def lossy_charge_worker(env: WorkflowEnvironment, engine: sa.Engine, ledger: EmbeddedLedger, queue: str,
                        models: ModelRegistry) -> Worker:
    """Each ``record_charge`` commits its charge and then fails its first attempt (a worker lost after
    the commit), so Temporal delivers it again."""
    def commit_then_fail_once(real: Callable[[Any], Any], inp: Any) -> Any:
        out = real(inp)
        if activity.info().attempt == 1:
            raise RuntimeError("connection lost after commit")
        return out

    return _worker_with(env, engine, ledger, queue, models, "record_charge", commit_then_fail_once)


class Gate:
    """Holds the first call of an activity, after its commit, until released (a worker stalled mid-call)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._first = True

    def run(self, real: Callable[[Any], Any], inp: Any) -> Any:
        out = real(inp)
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.entered.set()
            self.release.wait(60)
        return out


def gated_worker(env: WorkflowEnvironment, engine: sa.Engine, ledger: EmbeddedLedger, queue: str,
                 models: ModelRegistry, name: str, gate: Gate) -> Worker:
    return _worker_with(env, engine, ledger, queue, models, name, gate.run)


def charges(engine: sa.Engine, encounter_id: str) -> list[Any]:
    """Every stored charge of a stay, oldest first."""
    with engine.connect() as c:
        return list(c.execute(sa.text(
            "SELECT idempotency_key, code, quantity, unit_price, amount, patient_id, journey_id, source, source_id, "
            "invoice_id FROM hms.charge_items WHERE encounter_id = :e ORDER BY occurred_at, id"),
            {"e": encounter_id}))


def charge_count(engine: sa.Engine, key: str) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.text("SELECT count(*) FROM hms.charge_items WHERE idempotency_key = :k"),
                             {"k": key}).scalar_one())


async def assert_replays(handle: WorkflowHandle) -> None:
    """The finished history replays on the current code (the charge is part of it, not re-run)."""
    replay = await Replayer(workflows=WORKFLOWS, data_converter=data_converter).replay_workflow(
        await handle.fetch_history())
    assert replay.replay_failure is None


async def charge_attempts(handle: WorkflowHandle) -> list[int]:
    """The attempt that started each ``record_charge`` execution of a workflow, last attempt per execution."""
    scheduled: dict[int, int] = {}
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            if event.activity_task_scheduled_event_attributes.activity_type.name == "record_charge":
                scheduled[event.event_id] = 0
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id in scheduled:
                scheduled[started.scheduled_event_id] = started.attempt
    return list(scheduled.values())


def charge_audits(ledger: EmbeddedLedger, patient_id: str) -> int:
    return sum(1 for e in ledger.query(patient_id=patient_id) if e.event.subtype == "charge.record")

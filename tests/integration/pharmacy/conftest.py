"""Helpers for the pharmacy stage on real PostgreSQL and Temporal: an admitted patient, tasks, stock."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.crypto.fields import ephemeral_cipher
from activities.storage import tasks as task_store
from tests.integration.api.conftest import api, api_settings, auth  # noqa: F401  (the API fixtures)
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows.contracts import JourneyState, TaskCompletion, TaskCompletionResult
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.stages import StageRequest

AMOXICILLIN = {"drug_code": "723", "dose": 500, "unit": "mg", "route": "PO", "frequency_hours": 8}


async def admit(env: WorkflowEnvironment, queue: str) -> tuple[WorkflowHandle, JourneyState]:
    inp = journey_input()
    handle = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=queue)
    state = await wait_stage(handle, "admitted")
    assert state.stage == "admitted", state
    return handle, state


async def order(env: WorkflowEnvironment, journey: WorkflowHandle, payload: dict[str, Any],
                by: str = "attending-1") -> WorkflowHandle:
    """Start a pharmacy stage on the journey; the child's handle."""
    order_id = str(uuid.uuid4())
    status = await journey.execute_update(PatientJourney.start_stage,
                                          StageRequest(kind="pharmacy", stage_id=order_id, requested_by=by,
                                                       payload=payload))
    return env.client.get_workflow_handle_for(PharmacyWorkflow.run, status.workflow_id)


async def open_task(engine: sa.Engine, workflow_id: str, ttype: str, timeout: float = 30.0) -> dict[str, Any]:
    """The open task of a type for a workflow, once its projection is written."""
    for _ in range(int(timeout * 10)):
        with engine.connect() as c:
            row = c.execute(sa.text("SELECT id, role, ward_id, details, due FROM hms.tasks WHERE workflow_id = :w "
                                    "AND type = :t AND status = 'open' ORDER BY created_at DESC LIMIT 1"),
                            {"w": workflow_id, "t": ttype}).mappings().first()
        if row:  # the details as the inbox serves them (the clinical keys are sealed at rest)
            with Session(engine) as s:
                return {**row, "details": task_store.read_task(s, ephemeral_cipher(), row["id"]).details}
        await asyncio.sleep(0.1)
    raise AssertionError(f"no open {ttype} task for {workflow_id}")


async def complete(handle: WorkflowHandle, task_id: str, actor: str, role: str,
                   payload: dict[str, Any]) -> TaskCompletionResult:
    return await handle.execute_update(PharmacyWorkflow.complete_task,
                                       TaskCompletion(task_id=task_id, actor=actor, role=role, payload=payload))


async def refused(update: Awaitable[Any]) -> str:
    """Await an update that must be refused; the refusal's message.

    A validator's refusal is a failed update; a course that has already ended cannot take
    updates at all, which the server answers with "not found" (reported as "ended").
    """
    try:
        await update
    except WorkflowUpdateFailedError as exc:
        return str(getattr(exc.cause, "message", exc.cause))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "update" in exc.message:
            return "ended"
        raise
    raise AssertionError("the update was accepted")


async def verify(engine: sa.Engine, handle: WorkflowHandle, **payload: Any) -> dict[str, Any]:
    task = await open_task(engine, handle.id, "medication-verification")
    await complete(handle, task["id"], "pharmacist-1", "pharmacist", payload or {"decision": "approve"})
    return task


async def give(engine: sa.Engine, handle: WorkflowHandle, status: str = "given", **extra: Any) -> dict[str, Any]:
    task = await open_task(engine, handle.id, "medication-administration")
    await complete(handle, task["id"], "nurse-medical-1", "nurse", {"status": status, **extra})
    return task


def on_hand(engine: sa.Engine, drug_code: str) -> int:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT on_hand FROM hms.medication_stock WHERE drug_code = :d"),
                         {"d": drug_code}).scalar_one()


def movements(engine: sa.Engine, order_id: str) -> list[tuple[str, int]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(
            "SELECT kind, quantity FROM hms.medication_stock_movements WHERE order_id = :o ORDER BY kind"),
            {"o": order_id})]


def mar(engine: sa.Engine, order_id: str) -> list[tuple[int, str]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(
            "SELECT dose_number, status FROM hms.medication_administrations WHERE order_id = :o ORDER BY dose_number"),
            {"o": order_id})]


def order_id_of(handle: WorkflowHandle) -> str:
    return handle.id.removeprefix("pharmacy-")

"""Shared steps of the discharge and billing tests: admit a patient, build inputs, read the store."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowHandle

from activities.crypto.fields import ephemeral_cipher
from activities.storage import tasks as task_store
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows.billing_contracts import BillingInput
from workflows.contracts import JourneyState
from workflows.discharge import DischargeWorkflow
from workflows.discharge_contracts import DischargeInput, DischargeProgress
from workflows.journey import PatientJourney
from workflows.stages import StageStatus


async def admit(client: Client, queue: str, ward: str = "medical") -> tuple[WorkflowHandle, JourneyState]:
    """A journey run up to "admitted" (patient, encounter in progress, bed held)."""
    inp = journey_input(ward=ward)
    handle = await client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=queue)
    state = await wait_stage(handle, "admitted")
    assert state.status == "in-progress", state
    return handle, state


def discharge_input(state: JourneyState, stages: list[StageStatus] | None = None, **kw: Any) -> DischargeInput:
    return DischargeInput(journey_id=state.journey_id, patient_id=state.patient_id, encounter_id=state.encounter_id,
                          ward=state.ward, requested_by=state.attending or "attending-1", attending=state.attending,
                          care_team_id=state.care_team_id, bed_id=state.bed_id, stages=stages or [], **kw)


def billing_input(state: JourneyState) -> BillingInput:
    return BillingInput(journey_id=state.journey_id, encounter_id=state.encounter_id, patient_id=state.patient_id,
                        requested_by="attending-1")


def imaging_stage(stage_id: str, status: str = "completed", **result: Any) -> StageStatus:
    return StageStatus(kind="imaging", stage_id=stage_id, workflow_id=f"imaging-{stage_id}", status=status,
                       result=result)


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Poll until ``probe`` returns something truthy (workflows advance asynchronously)."""
    last = None
    for _ in range(int(timeout * 10)):
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not reached; last value {last!r}")


async def progress_at(handle: WorkflowHandle, step: str) -> DischargeProgress:
    async def probe() -> DischargeProgress | None:
        prog = await handle.query(DischargeWorkflow.progress)
        return prog if prog.step == step else None

    return await eventually(probe)


def task_row(engine: sa.Engine, task_id: str) -> Any:
    """The task with its details as the inbox serves them (the clinical keys are sealed at rest)."""
    with Session(engine) as s:
        return task_store.read_task(s, ephemeral_cipher(), task_id)


def bed_holder(engine: sa.Engine, bed_id: str) -> str | None:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT encounter_id FROM hms.beds WHERE id = :b"), {"b": bed_id}).scalar()


def charges_total(engine: sa.Engine, encounter_id: str) -> tuple[int, Decimal]:
    with engine.connect() as c:
        n, total = c.execute(sa.text("SELECT count(*), coalesce(sum(amount), 0) FROM hms.charge_items "
                                     "WHERE encounter_id = :e"), {"e": encounter_id}).one()
    return int(n), Decimal(total)

"""Orders cancelled by their placer stay cancelled across continue-as-new (real dev server, PostgreSQL).

One order's cancellation overtakes the order itself (it never started); another is cancelled while its
pharmacy stage runs. After the journey continued as new, both orders arrive again, late: neither starts,
and the journey's query still shows the one that ran as cancelled.
"""
from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.pharmacy.conftest import AMOXICILLIN
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from tests.integration.workflows.test_journey_discharge import eventually, start_journey
from workflows.contracts import JourneyState
from workflows.hl7_orders import OrderCancel
from workflows.journey import PatientJourney
from workflows.stages import StageRequest

pytestmark = pytest.mark.integration
BY = "hl7:test-placer"


async def _state(journey: WorkflowHandle) -> JourneyState | None:
    try:
        return await journey.query(PatientJourney.state)
    except Exception:  # noqa: BLE001 - a new run may not have run its first task yet
        return None


def _order(stage_id: str) -> StageRequest:
    return StageRequest(kind="pharmacy", stage_id=stage_id, requested_by=BY, payload={**AMOXICILLIN, "duration_days": 1})


async def _stage_status(journey: WorkflowHandle, stage_id: str, wanted: str) -> JourneyState | None:
    state = await _state(journey)
    if state and any(s.stage_id == stage_id and s.status == wanted for s in state.stages):
        return state
    return None


async def test_cancelled_orders_are_not_revived_after_continue_as_new(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    client = temporal_env.client
    inp = dataclasses.replace(journey_input(), continue_as_new_after_events=20)
    overtaken, ran = str(uuid.uuid4()), str(uuid.uuid4())
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await start_journey(client, task_queue, inp)
        await wait_stage(journey, "admitted")
        await journey.signal(PatientJourney.cancel_order, OrderCancel(stage_ids=[overtaken], requested_by=BY))
        await journey.signal(PatientJourney.place_order, _order(ran))
        await eventually(lambda: _stage_status(journey, ran, "running"))
        await journey.signal(PatientJourney.cancel_order, OrderCancel(stage_ids=[ran], requested_by=BY))
        before = await eventually(lambda: _stage_status(journey, ran, "cancelled"))
        run_before = (await journey.describe()).run_id

        # The placer resends the cancelled order while the stay is quiet: the history grows until it continues.
        for _ in range(100):
            await journey.signal(PatientJourney.place_order, _order(ran))
            now = await _state(journey)
            if now is not None and now.continued > before.continued:
                break
            await asyncio.sleep(0.2)
        assert (await journey.describe()).run_id != run_before

        # Late orders reach the new run; an update answered after them shows they were taken (and refused).
        await journey.signal(PatientJourney.place_order, _order(overtaken))
        await journey.signal(PatientJourney.place_order, _order(ran))
        status = await journey.execute_update(PatientJourney.start_stage, _order(ran))
        state = await journey.query(PatientJourney.state)
        await journey.terminate("test over")

    assert status.status == "cancelled"
    assert state.continued > before.continued
    assert {overtaken, ran} <= set(state.cancelled_orders)
    assert [(s.stage_id, s.status) for s in state.stages if s.kind == "pharmacy"] == [(ran, "cancelled")]

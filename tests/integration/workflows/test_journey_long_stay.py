"""A long stay continues as new between stages and keeps everything it knew (real dev server, PostgreSQL)."""
from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
import sqlalchemy as sa
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.triage.support import STABLE, triage_done
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from tests.integration.workflows.test_journey_discharge import (
    eventually,
    finish_checklist,
    start_journey,
    task_status,
)
from workflows.contracts import JourneyState
from workflows.discharge_contracts import DischargePlanRequest
from workflows.journey import PatientJourney
from workflows.stages import StageRequest, StageStatus
from workflows.triage import TriageWorkflow
from workflows.triage_contracts import PhysicianSeen

pytestmark = pytest.mark.integration


async def _state(journey: WorkflowHandle) -> JourneyState | None:
    try:
        return await journey.query(PatientJourney.state)
    except Exception:  # noqa: BLE001 - a new run may not have run its first task yet
        return None


async def start_triage_stage(journey: WorkflowHandle) -> str:
    stage_id = str(uuid.uuid4())
    status: StageStatus = await journey.execute_update(PatientJourney.start_stage, StageRequest(
        kind="triage", stage_id=stage_id, requested_by="attending-1", payload={"age": 40}))
    assert status.workflow_id == f"triage-{stage_id}"
    return stage_id


async def finish_triage_stage(client: Client, stage_id: str) -> None:
    """The nurse confirms the suggested acuity, the attending reports the patient seen: the stage completes."""
    triage = client.get_workflow_handle_for(TriageWorkflow.run, f"triage-{stage_id}")

    async def task_open() -> bool:
        return f"triage-{stage_id}" in (await triage.query(TriageWorkflow.state)).open_tasks

    await eventually(task_open)
    await triage.execute_update(TriageWorkflow.complete_task, triage_done(stage_id, STABLE))
    await triage.execute_update(TriageWorkflow.physician_seen, PhysicianSeen("attending-1", "attending_physician"))


async def stage_completed(journey: WorkflowHandle, stage_id: str) -> JourneyState | None:
    state = await _state(journey)
    if state and any(s.stage_id == stage_id and s.status == "completed" for s in state.stages):
        return state
    return None


async def test_long_stay_continues_as_new_keeps_its_stages_and_discharges(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    client = temporal_env.client
    inp = dataclasses.replace(journey_input(), continue_as_new_after_events=34)
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await start_journey(client, task_queue, inp)
        admitted = await wait_stage(journey, "admitted")
        first_run = (await journey.describe()).run_id
        done: list[str] = []
        for _ in range(3):
            # Each order is sent as soon as the previous stage has ended: a quiet moment, so it may reach the
            # run that is continuing as new, or the new run before its first task. It is neither lost nor refused.
            stage_id = await start_triage_stage(journey)
            await finish_triage_stage(client, stage_id)
            await eventually(lambda stage_id=stage_id: stage_completed(journey, stage_id))
            done.append(stage_id)
        stage_id = await start_triage_stage(journey)
        await finish_triage_stage(client, stage_id)
        late = await start_triage_stage(journey)

        state = await eventually(lambda: _state(journey))
        assert state.continued >= 1 and (await journey.describe()).run_id != first_run
        assert (state.stage, state.bed_id, state.attending) == ("admitted", admitted.bed_id, admitted.attending)
        by_id = {s.stage_id: s for s in state.stages}
        assert list(by_id) == [*done, stage_id, late]
        for earlier in done:
            assert by_id[earlier].status == "completed" and by_id[earlier].result["physician_seen"] is True
            assert by_id[earlier].result["esi"] is not None
        assert by_id[late].status == "running"

        started = await journey.execute_update(PatientJourney.start_discharge,
                                               DischargePlanRequest(requested_by="attending-1"))
        assert started.status == "started"
        await finish_checklist(client, db_engine, admitted.encounter_id)
        final: JourneyState = await journey.result()
        billing = f"billing-{admitted.encounter_id}"
        await eventually(lambda: asyncio.to_thread(task_status, db_engine, f"billing-settlement-{admitted.encounter_id}"))
        await client.get_workflow_handle(billing).terminate("test over")

    assert (final.stage, final.status) == ("discharged", "completed")
    assert final.continued == state.continued and final.billing_workflow_id == f"billing-{admitted.encounter_id}"
    assert [s.stage_id for s in final.stages] == [*done, stage_id, late]
    assert {s.stage_id: s.status for s in final.stages}[late] == "cancelled"

"""DischargeWorkflow against real PostgreSQL and real Temporal (dev server and time-skipping server)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.composition import Composition
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.billing.helpers import (
    admit,
    bed_holder,
    discharge_input,
    eventually,
    imaging_stage,
    progress_at,
    task_row,
)
from tests.integration.conftest import journey_worker
from workflows.contracts import DischargeRequest, TaskCompletion
from workflows.discharge import DischargeWorkflow
from workflows.discharge_contracts import StagesUpdate
from workflows.journey import PatientJourney
from workflows.stages import StageStatus

pytestmark = pytest.mark.integration


def done(task_id: str, actor: str, role: str, **payload: object) -> TaskCompletion:
    return TaskCompletion(task_id=task_id, actor=actor, role=role, payload=dict(payload))


async def test_checklist_blocks_on_unreported_flagged_study(temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                            ledger: EmbeddedLedger, task_queue: str) -> None:
    env = temporal_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, state = await admit(env.client, task_queue)
        flagged = imaging_stage("study-1", flagged=True, report_status="preliminary")
        handle = await env.client.start_workflow(
            DischargeWorkflow.run, discharge_input(state, [flagged]), id=f"discharge-{state.encounter_id}",
            task_queue=task_queue)
        await _until_blockers(handle, [{"stage_id": "study-1", "kind": "imaging",
                                        "reason": "flagged-study-unreported"}])
        # Until the study is reported nothing of the checklist opens.
        assert (await handle.query(DischargeWorkflow.progress)).step == "pending-results"
        assert task_row(db_engine, f"medication-reconciliation-{state.encounter_id}") is None
        # A still-running second study also blocks; reporting the first is not enough.
        await handle.signal(DischargeWorkflow.stages_changed, StagesUpdate(stages=[
            imaging_stage("study-1", flagged=True, report_status="final"), imaging_stage("study-2", "running")]))
        await _until_blockers(handle, [{"stage_id": "study-2", "kind": "imaging", "reason": "imaging-in-progress"}])
        await handle.signal(DischargeWorkflow.stages_changed, StagesUpdate(stages=[
            imaging_stage("study-1", flagged=True, report_status="final"), imaging_stage("study-2", flagged=False)]))
        prog = await progress_at(handle, "checklist")
        assert prog.blockers == []
        row = task_row(db_engine, f"medication-reconciliation-{state.encounter_id}")
        assert row is not None and row.role == "attending_physician" and row.status == "open"
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()
        # Cancelling the discharge closes its open tasks (nobody keeps working on them).
        assert task_row(db_engine, f"medication-reconciliation-{state.encounter_id}").status == "cancelled"


async def _until_blockers(handle: WorkflowHandle, expected: list[dict[str, str]]) -> None:
    async def probe() -> bool:
        return (await handle.query(DischargeWorkflow.progress)).blockers == expected

    await eventually(probe)


async def test_discharge_checklist_cleaning_frees_bed(time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                      ledger: EmbeddedLedger, task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, state = await admit(env.client, task_queue)
        enc = state.encounter_id
        rx = StageStatus(kind="pharmacy", stage_id="rx-1", workflow_id="pharmacy-rx-1", status="running")
        handle = await env.client.start_workflow(
            DischargeWorkflow.run, discharge_input(state, [rx, imaging_stage("s-ok", flagged=False)]),
            id=f"discharge-{enc}", task_queue=task_queue)
        await progress_at(handle, "checklist")
        med_task, fu_task, clean_task = (f"medication-reconciliation-{enc}", f"follow-up-{enc}", f"bed-cleaning-{enc}")
        assert task_row(db_engine, med_task).details == {"orders": ["rx-1"]}

        bad_payloads = [{"decisions": {"rx-1": "maybe"}}, {"decisions": {}}, {"decisions": ["rx-1"]},
                        {"decisions": {"rx-1": "stop"}, "comment": "x"}]
        for bad in bad_payloads:
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await handle.execute_update(DischargeWorkflow.complete_task,
                                            done(med_task, "attending-1", "attending_physician", **bad))
            assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "InvalidTaskPayload"
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(DischargeWorkflow.complete_task,
                                        done(med_task, "nurse-medical-1", "nurse", decisions={"rx-1": "stop"}))
        assert err.value.cause.type == "WrongRole"
        res = await handle.execute_update(DischargeWorkflow.complete_task,
                                          done(med_task, "attending-1", "attending_physician",
                                               decisions={"rx-1": "stop"}))
        assert res.result == {"decisions": {"rx-1": "stop"}}
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(DischargeWorkflow.complete_task, done(
                fu_task, "attending-1", "attending_physician", date="1999-01-01", clinic="cardiology"))
        assert "payload.date" in str(err.value.cause)
        follow_date = (await env.get_current_time() + timedelta(days=14)).date().isoformat()
        await handle.execute_update(DischargeWorkflow.complete_task, done(
            fu_task, "attending-1", "attending_physician", date=follow_date, clinic="cardiology"))

        prog = await progress_at(handle, "bed-cleaning")
        row = await eventually(lambda: asyncio.to_thread(task_row, db_engine, clean_task))
        assert prog.bed_id == state.bed_id and prog.composition_id == f"discharge-summary-{enc}"
        # The bed is being cleaned: still held by the stay, so no admission can take it.
        assert bed_holder(db_engine, state.bed_id) == enc
        with db_engine.connect() as c:
            assert c.execute(sa.text("SELECT status FROM hms.bed_cleanings WHERE encounter_id = :e"),
                             {"e": enc}).scalar() == "cleaning"
            assert c.execute(sa.text("SELECT status FROM hms.encounters WHERE id = :e"), {"e": enc}).scalar() \
                == "in-progress"
            resource = c.execute(sa.text("SELECT resource FROM hms.discharge_summaries WHERE encounter_id = :e"),
                                 {"e": enc}).scalar()
        comp = Composition.model_validate(resource)
        assert comp.encounter.reference == f"Encounter/{enc}" and comp.type.coding[0].code == "18842-5"
        meds = next(s for s in comp.section if s.code.coding[0].code == "10183-2")
        assert "rx-1: stop" in meds.text.div and not meds.entry  # a stopped order is not a discharge medication
        assert row.role == "nurse" and row.ward_id == "medical" and row.details == {"bed_id": state.bed_id}

        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(DischargeWorkflow.complete_task, done(clean_task, "nurse-medical-1", "nurse"))
        res = await handle.execute_update(DischargeWorkflow.complete_task,
                                          done(clean_task, "nurse-medical-1", "nurse", cleaned=True))
        assert res.result == {"bed_id": state.bed_id, "status": "available"}
        assert bed_holder(db_engine, state.bed_id) is None
        # Auto time-skipping would jump to the waiting journey's execution timeout; this process has no timers.
        with env.auto_time_skipping_disabled():
            result = await handle.result()
        assert result.medications == {"rx-1": "stop"} and result.follow_up == {"date": follow_date,
                                                                                "clinic": "cardiology"}
        with db_engine.connect() as c:
            status, ended = c.execute(sa.text("SELECT status, ended_at FROM hms.encounters WHERE id = :e"),
                                      {"e": enc}).one()
        assert status == "finished" and ended is not None
        with pytest.raises(Exception):  # noqa: B017, PT011 - the process has ended; a late completion is refused
            await handle.execute_update(DischargeWorkflow.complete_task,
                                        done(clean_task, "nurse-medical-1", "nurse", cleaned=True))
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        with env.auto_time_skipping_disabled():
            assert (await journey.result()).stage == "discharged"
    subtypes = {e.event.subtype for e in ledger.query(patient_id=state.patient_id)}
    assert {"discharge.summary", "bed.cleaning", "bed.available", "encounter.finished"} <= subtypes

"""PatientJourney owns discharge: the checklist as its child, billing after it, freed beds wake admissions.

Real Temporal dev server and real PostgreSQL; the stages are real ImagingWorkflow and TriageWorkflow
children driven through their updates.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.imaging.helpers import (
    REPORT,
    attach_dicom,
    order_payload,
    rg1_bytes,
    start_order,
    wait_imaging,
)
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows import search_attributes as sa_keys
from workflows.contracts import DischargeRequest, JourneyInput, JourneyState, TaskCompletion
from workflows.discharge import DischargeWorkflow
from workflows.discharge_contracts import DischargePlanRequest, DischargeProgress
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import report_task_id
from workflows.journey import PatientJourney
from workflows.stages import StageRequest

pytestmark = pytest.mark.integration


async def eventually(probe: Any, timeout: float = 30.0) -> Any:  # noqa: ANN401
    """Poll until ``probe()`` returns something truthy (workflows move on asynchronously)."""
    last = None
    for _ in range(int(timeout * 10)):
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not reached; last value {last!r}")


async def journey_state(handle: WorkflowHandle) -> JourneyState:
    return await handle.query(PatientJourney.state)


async def progress(client: Client, encounter_id: str) -> DischargeProgress:
    return await client.get_workflow_handle(f"discharge-{encounter_id}").query(DischargeWorkflow.progress)


async def start_journey(client: Client, queue: str, inp: JourneyInput | None = None) -> WorkflowHandle:
    inp = inp or journey_input()
    # The handle names no run: queries and updates reach the current run, result() follows continue-as-new.
    return await client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=queue)


def task_status(engine: sa.Engine, task_id: str) -> str | None:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT status FROM hms.tasks WHERE id = :t"), {"t": task_id}).scalar()


async def finish_checklist(client: Client, engine: sa.Engine, encounter_id: str,
                           decisions: dict[str, str] | None = None) -> None:
    """The attending's two tasks, then the nurse's bed cleaning (which frees the bed)."""
    checklist = client.get_workflow_handle(f"discharge-{encounter_id}")

    async def open_task(kind: str) -> bool:
        return f"{kind}-{encounter_id}" in (await progress(client, encounter_id)).open_tasks

    await eventually(lambda: open_task("medication-reconciliation"))
    await checklist.execute_update(DischargeWorkflow.complete_task, TaskCompletion(
        task_id=f"medication-reconciliation-{encounter_id}", actor="attending-1", role="attending_physician",
        payload={"decisions": decisions or {}}))
    await eventually(lambda: open_task("follow-up"))
    await checklist.execute_update(DischargeWorkflow.complete_task, TaskCompletion(
        task_id=f"follow-up-{encounter_id}", actor="attending-1", role="attending_physician",
        payload={"required": False}))
    await eventually(lambda: open_task("bed-cleaning"))
    await checklist.execute_update(DischargeWorkflow.complete_task, TaskCompletion(
        task_id=f"bed-cleaning-{encounter_id}", actor="nurse-medical-1", role="nurse", payload={"cleaned": True}))


async def test_journey_discharges_through_its_checklist_then_starts_billing(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    client = temporal_env.client
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await start_journey(client, task_queue)
        state = await wait_stage(journey, "admitted")
        enc = state.encounter_id
        order = await start_order(client, journey, order_payload(priority="urgent"))
        await attach_dicom(db_engine, order, rg1_bytes())
        imaging = await wait_imaging(order, lambda s: s.status == "awaiting-report")
        triage_id = str(uuid.uuid4())
        await journey.execute_update(PatientJourney.start_stage, StageRequest(
            kind="triage", stage_id=triage_id, requested_by="attending-1"))

        started = await journey.execute_update(PatientJourney.start_discharge,
                                               DischargePlanRequest(requested_by="attending-1"))
        assert (started.status, started.workflow_id) == ("started", f"discharge-{enc}")
        state = await journey_state(journey)
        assert state.stage == "discharging" and state.discharge.status == "running"
        desc = await journey.describe()
        assert desc.typed_search_attributes.get(sa_keys.STAGE) == "discharging"
        # The checklist waits for the running study; no stage was cancelled by the start of discharge.
        await eventually(lambda: _blocked_by(client, enc, "imaging-in-progress"))
        assert {s.kind: s.status for s in state.stages} == {"imaging": "running", "triage": "running"}
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await journey.execute_update(PatientJourney.start_stage, StageRequest(
                kind="triage", stage_id=str(uuid.uuid4()), requested_by="attending-1"))
        assert refused.value.cause.type == "JourneyNotReady"
        again = await journey.execute_update(PatientJourney.start_discharge,
                                             DischargePlanRequest(requested_by="attending-1"))
        assert (again.status, again.workflow_id) == ("refreshed", f"discharge-{enc}")

        # The report ends the imaging stage; the journey sends its stages and the checklist opens.
        await order.execute_update(ImagingWorkflow.complete_task, TaskCompletion(
            task_id=report_task_id(imaging.order_id), actor="radiologist-1", role="radiologist", payload=REPORT))

        async def at_checklist() -> bool:
            prog = await progress(client, enc)
            return prog.step == "checklist" and prog.blockers == []

        await eventually(at_checklist)
        await finish_checklist(client, db_engine, enc)
        final: JourneyState = await journey.result()
        assert final.billing_workflow_id == f"billing-{enc}"
        billing = client.get_workflow_handle(final.billing_workflow_id)
        settlement = await eventually(
            lambda: asyncio.to_thread(task_status, db_engine, f"billing-settlement-{enc}"))
        # Abandoned by the journey: billing runs on after the journey closed, awaiting settlement.
        assert (await journey.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert (await billing.describe()).status == WorkflowExecutionStatus.RUNNING and settlement == "open"
        await billing.terminate("test over")

    assert (final.stage, final.status) == ("discharged", "completed")
    assert final.discharge.status == "completed" and final.discharge.result["bed_id"] == state.bed_id
    stages = {s.kind: s for s in final.stages}
    assert stages["imaging"].status == "completed" and stages["imaging"].result["report_id"]
    # The triage still running when the checklist completed was stopped (it compensates its open task).
    assert stages["triage"].status == "cancelled"
    assert task_status(db_engine, f"triage-{triage_id}") == "cancelled"
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT status FROM hms.encounters WHERE id = :e"), {"e": enc}).scalar() == "finished"
        assert c.execute(sa.text("SELECT count(*) FROM hms.beds WHERE encounter_id = :e"), {"e": enc}).scalar() == 0


async def _blocked_by(client: Client, enc: str, reason: str) -> bool:
    return [b["reason"] for b in (await progress(client, enc)).blockers] == [reason]


async def test_discharge_refused_before_admission_and_after_discharge(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    ward = make_ward(db_engine, beds=0)
    client = temporal_env.client
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        waiting = await start_journey(client, task_queue, journey_input(ward=ward, deadline=7200, retry=3600))
        await eventually(lambda: _stage_is(waiting, "admission"))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await waiting.execute_update(PatientJourney.start_discharge,
                                         DischargePlanRequest(requested_by="attending-1"))
        assert refused.value.cause.type == "JourneyNotReady"
        assert (await journey_state(waiting)).discharge is None

        admitted = await start_journey(client, task_queue)
        state = await wait_stage(admitted, "admitted")
        with pytest.raises(WorkflowUpdateFailedError) as bad:
            await admitted.execute_update(PatientJourney.start_discharge, DischargePlanRequest(
                requested_by="attending-1", medication_orders=[""]))
        assert bad.value.cause.type == "InvalidDischargePlan"
        await admitted.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await admitted.result()
        assert final.stage == "discharged" and final.discharge is None and final.billing_workflow_id is None
        assert state.bed_id
        await waiting.terminate("test over")


async def _stage_is(handle: WorkflowHandle, stage: str) -> bool:
    try:
        return (await journey_state(handle)).stage == stage
    except Exception:  # noqa: BLE001 - the first workflow task may not have run yet
        return False


def make_ward(engine: sa.Engine, beds: int) -> str:
    """A ward of its own with ``beds`` beds, on team-a (whose attending is attending-1)."""
    ward = f"w-{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.wards (id, name) VALUES (:w, 'Test ward')"), {"w": ward})
        c.execute(sa.text("UPDATE hms.care_teams SET wards = array_append(wards, :w) WHERE id = 'team-a'"),
                  {"w": ward})
        for n in range(beds):
            c.execute(sa.text("INSERT INTO hms.beds (id, ward_id, label) VALUES (:b, :w, :l)"),
                      {"b": f"{ward}-{n:02d}", "w": ward, "l": f"{n:02d}"})
    return ward


def _waiting_without_bed(engine: sa.Engine, encounter_id: str) -> bool:
    with engine.connect() as c:
        status = c.execute(sa.text("SELECT status FROM hms.encounters WHERE id = :e"), {"e": encounter_id}).scalar()
        held = c.execute(sa.text("SELECT count(*) FROM hms.beds WHERE encounter_id = :e"),
                         {"e": encounter_id}).scalar()
    return status == "planned" and held == 0


@pytest.mark.parametrize("by", ["checklist", "signal"])
async def test_freed_bed_wakes_the_admission_waiting_on_the_ward(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        by: str) -> None:
    """A full ward: the waiting admission gets the freed bed at once, not at its next retry (an hour away)."""
    ward = make_ward(db_engine, beds=1)
    client = temporal_env.client
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        leaving = await start_journey(client, task_queue, journey_input(ward=ward))
        first = await wait_stage(leaving, "admitted")
        arriving = journey_input(ward=ward, deadline=7200, retry=3600)
        waiting = await start_journey(client, task_queue, arriving)
        await eventually(lambda: asyncio.to_thread(_waiting_without_bed, db_engine, arriving.encounter_id))
        # Let the admission reach its wait (its first bed attempt has failed; the next is an hour away).
        await eventually(lambda: _bed_attempted(client, arriving.encounter_id))

        if by == "checklist":
            await leaving.execute_update(PatientJourney.start_discharge,
                                         DischargePlanRequest(requested_by="attending-1"))
            await finish_checklist(client, db_engine, first.encounter_id)
        else:
            await leaving.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await leaving.result()
        second = await wait_stage(waiting, "admitted")
        assert second.bed_id == first.bed_id == f"{ward}-00"
        await waiting.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await waiting.result()


async def _bed_attempted(client: Client, encounter_id: str) -> bool:
    """The admission waits on a timer: its bed attempt found no bed (the retry is an hour away)."""
    history = await client.get_workflow_handle(f"admission-{encounter_id}").fetch_history()
    return any(e.HasField("timer_started_event_attributes") for e in history.events)

"""Record the committed histories that CI replays (run by hand when a workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record

Runs an admission (with a bed wait and its task) and a plain admission-and-discharge
on the time-skipping server against a scratch database, and writes their histories.

    .venv/bin/python -m tests.replay.record --only journey-discharge

records only the journey-owned discharge (``record_journey_discharge``): a journey whose
checklist child runs beside its stages, wakes the admission waiting for its bed and hands
the stay to billing; and a long stay that continues as new between stages, then discharges.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses

import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from tests.integration.workflows.test_journey_discharge import (
    eventually,
    finish_checklist,
    make_ward,
    task_status,
)
from tests.integration.workflows.test_journey_long_stay import (
    finish_triage_stage,
    stage_completed,
    start_triage_stage,
)
from tests.replay.harness import OUT, add_replay_ward, admit_through_bed_task, recording
from workflows.contracts import DischargeRequest
from workflows.discharge_contracts import DischargePlanRequest
from workflows.journey import PatientJourney


async def main(only: str | None = None) -> None:
    async with recording() as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        add_replay_ward(engine)
        await _record(env, engine, ledger, only)


async def _record(env: WorkflowEnvironment, engine: sa.Engine, ledger: EmbeddedLedger, only: str | None) -> None:
    queue = "record"
    if only == "journey-discharge":
        async with journey_worker(env, engine, ledger, queue):
            await record_journey_discharge(env, engine, queue)
        return
    async with journey_worker(env, engine, ledger, queue):
        plain = journey_input()
        h = await env.client.start_workflow(PatientJourney.run, plain, id=plain.journey_id, task_queue=queue)
        await wait_stage(h, "admitted")
        await h.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await h.result()
        OUT.joinpath("journey_admit_discharge.json").write_text((await h.fetch_history()).to_json())
        admission = env.client.get_workflow_handle(f"admission-{plain.encounter_id}")
        OUT.joinpath("admission_plain.json").write_text((await admission.fetch_history()).to_json())

        h2, admission2 = await admit_through_bed_task(env, engine, queue)
        OUT.joinpath("admission_bed_wait_task.json").write_text((await admission2.fetch_history()).to_json())
        await h2.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await h2.result()


async def record_journey_discharge(env: WorkflowEnvironment, engine: sa.Engine, queue: str) -> None:
    """The journey owns discharge: checklist child, stages beside it, a woken admission, billing; a long stay."""
    client = env.client
    ward = make_ward(engine, beds=1)
    leaving_inp = journey_input(ward=ward)
    leaving = await client.start_workflow(PatientJourney.run, leaving_inp, id=leaving_inp.journey_id,
                                          task_queue=queue)
    await wait_stage(leaving, "admitted")
    waiting_inp = journey_input(ward=ward, deadline=7200, retry=3600)
    waiting = await client.start_workflow(PatientJourney.run, waiting_inp, id=waiting_inp.journey_id,
                                          task_queue=queue)
    ended_during_discharge, still_running = await start_triage_stage(leaving), await start_triage_stage(leaving)
    await leaving.execute_update(PatientJourney.start_discharge, DischargePlanRequest(requested_by="attending-1"))
    await leaving.execute_update(PatientJourney.start_discharge, DischargePlanRequest(requested_by="attending-1"))
    await finish_triage_stage(client, ended_during_discharge)
    await eventually(lambda: stage_completed(leaving, ended_during_discharge))
    await finish_checklist(client, engine, leaving_inp.encounter_id)
    with env.auto_time_skipping_disabled():
        final = await leaving.result()
        await wait_stage(waiting, "admitted")
    assert final.billing_workflow_id and still_running in {s.stage_id for s in final.stages}
    OUT.joinpath("journey_discharge_checklist.json").write_text((await leaving.fetch_history()).to_json())
    checklist = client.get_workflow_handle(f"discharge-{leaving_inp.encounter_id}")
    OUT.joinpath("discharge_wakes_admission.json").write_text((await checklist.fetch_history()).to_json())
    await waiting.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
    with env.auto_time_skipping_disabled():
        await waiting.result()
    OUT.joinpath("journey_discharge_signal_wakes.json").write_text((await waiting.fetch_history()).to_json())
    await _settlement_open(engine, leaving_inp.encounter_id)

    long_inp = dataclasses.replace(journey_input(), continue_as_new_after_events=20)
    long_stay = await client.start_workflow(PatientJourney.run, long_inp, id=long_inp.journey_id, task_queue=queue)
    await wait_stage(long_stay, "admitted")
    first_run = (await long_stay.describe()).run_id
    stage_id = await start_triage_stage(long_stay)
    await finish_triage_stage(client, stage_id)

    async def continued() -> bool:
        return (await long_stay.describe()).run_id != first_run

    await eventually(continued)
    OUT.joinpath("journey_continued_as_new.json").write_text(
        (await client.get_workflow_handle(long_inp.journey_id, run_id=first_run).fetch_history()).to_json())
    await long_stay.execute_update(PatientJourney.start_discharge, DischargePlanRequest(requested_by="attending-1"))
    await finish_checklist(client, engine, long_inp.encounter_id)
    with env.auto_time_skipping_disabled():
        resumed = await long_stay.result()
    assert resumed.continued == 1 and [s.stage_id for s in resumed.stages] == [stage_id]
    OUT.joinpath("journey_resumed_discharge.json").write_text((await long_stay.fetch_history()).to_json())
    await _settlement_open(engine, long_inp.encounter_id)


async def _settlement_open(engine: sa.Engine, encounter_id: str) -> None:
    """Billing (abandoned by the journey) has reached its wait for the clerk: nothing is left in flight."""
    await eventually(lambda: asyncio.to_thread(task_status, engine, f"billing-settlement-{encounter_id}"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["journey-discharge"], help="record only these histories")
    asyncio.run(main(parser.parse_args().only))

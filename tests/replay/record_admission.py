"""Record the admission histories of the local-storage path (patch ``admission-local-storage``).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_admission

The histories recorded before the patch (``admission_plain.json``, ``admission_bed_wait_task.json``,
written by ``tests.replay.record``) stay committed so the old path keeps replaying; this adds the
same two admissions as they run now.
"""
from __future__ import annotations

import asyncio

import sqlalchemy as sa

from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from tests.replay.harness import OUT, recording
from workflows.contracts import TaskCompletion
from workflows.journey import PatientJourney


async def main() -> None:
    async with recording() as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO hms.wards (id, name) VALUES ('replay', 'Replay ward')"))
            c.execute(sa.text("UPDATE hms.care_teams SET wards = array_append(wards, 'replay') WHERE id = 'team-a'"))
        queue = "record"
        async with journey_worker(env, engine, ledger, queue):
            plain = journey_input()
            h = await env.client.start_workflow(PatientJourney.run, plain, id=plain.journey_id, task_queue=queue)
            await wait_stage(h, "admitted")
            admission = env.client.get_workflow_handle(f"admission-{plain.encounter_id}")
            OUT.joinpath("admission_local_writes.json").write_text((await admission.fetch_history()).to_json())

            waiting = journey_input(ward="replay", deadline=600, retry=300)
            await env.client.start_workflow(PatientJourney.run, waiting, id=waiting.journey_id, task_queue=queue)
            await env.sleep(1200)
            with engine.begin() as c:
                c.execute(sa.text("INSERT INTO hms.beds (id, ward_id, label) VALUES ('replay-01', 'replay', '01')"))
            admission2 = env.client.get_workflow_handle(f"admission-{waiting.encounter_id}")
            await admission2.execute_update("complete_task", TaskCompletion(
                task_id=f"bed-management-{waiting.encounter_id}", actor="nurse-medical-1", role="nurse",
                payload={"bed_id": "replay-01"}))
            await admission2.result()
            OUT.joinpath("admission_bed_wait_local.json").write_text((await admission2.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())

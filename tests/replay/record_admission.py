"""Record the admission histories of the local-storage path (patch ``admission-local-storage``).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_admission

The histories recorded before the patch (``admission_plain.json``, ``admission_bed_wait_task.json``,
written by ``tests.replay.record``) stay committed so the old path keeps replaying; this adds the
same two admissions as they run now.
"""
from __future__ import annotations

import asyncio

from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from tests.replay.harness import OUT, add_replay_ward, admit_through_bed_task, recording
from workflows.journey import PatientJourney


async def main() -> None:
    async with recording() as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        add_replay_ward(engine)
        queue = "record"
        async with journey_worker(env, engine, ledger, queue):
            plain = journey_input()
            h = await env.client.start_workflow(PatientJourney.run, plain, id=plain.journey_id, task_queue=queue)
            await wait_stage(h, "admitted")
            admission = env.client.get_workflow_handle(f"admission-{plain.encounter_id}")
            OUT.joinpath("admission_local_writes.json").write_text((await admission.fetch_history()).to_json())

            _, admission2 = await admit_through_bed_task(env, engine, queue)
            OUT.joinpath("admission_bed_wait_local.json").write_text((await admission2.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())

"""Record the admission histories of the local-storage path (patch ``admission-local-storage``).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_admission

The histories recorded before the patch (``admission_plain.json``, ``admission_bed_wait_task.json``,
written by ``tests.replay.record``) stay committed so the old path keeps replaying; this adds the
same two admissions as they run now.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.storage.migrate import upgrade
from deploy.seed import seed_demo
from deploy.settings import Settings
from deploy.temporal_setup import ensure_search_attributes
from ledger.embedded import EmbeddedLedger
from ledger.keys import load_or_create_signing_key
from tests.conftest import create_database
from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows.contracts import TaskCompletion
from workflows.journey import PatientJourney

OUT = Path(__file__).with_name("histories")


async def main() -> None:
    url = create_database(os.environ.get("HMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
                          .replace("postgresql://", "postgresql+psycopg://"))
    upgrade(url)
    home = Path(f"/tmp/hms-record-{uuid.uuid4().hex[:6]}")
    seed_demo(Settings(home=home), url)
    engine = sa.create_engine(url)
    key, key_id = load_or_create_signing_key(home / "ledger.pem")
    ledger = EmbeddedLedger(engine, key, key_id)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server", path=str(Path(sys.executable).parent)),
        data_converter=pydantic_data_converter)
    await ensure_search_attributes(env.client)
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
    await env.shutdown()
    engine.dispose()
    print(f"histories written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())

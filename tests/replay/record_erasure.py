"""Record the ErasureWorkflow history that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_erasure

A patient's own request whose approval was overdue (escalated once), then approved by a
compliance officer: the patient's data key is shredded.
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
from deploy.temporal_setup import ensure_search_attributes
from ledger.embedded import EmbeddedLedger
from ledger.keys import load_or_create_signing_key
from tests.conftest import create_database
from tests.integration.conftest import journey_worker
from tests.integration.security.test_erasure import start_erasure
from workflows.contracts import TaskCompletion
from workflows.erasure import ErasureWorkflow

OUT = Path(__file__).with_name("histories")


async def main() -> None:
    url = create_database(os.environ.get("HMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
                          .replace("postgresql://", "postgresql+psycopg://"))
    upgrade(url)
    engine = sa.create_engine(url)
    key, key_id = load_or_create_signing_key(Path(f"/tmp/hms-record-{uuid.uuid4().hex[:6]}") / "ledger.pem")
    ledger = EmbeddedLedger(engine, key, key_id)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server", path=str(Path(sys.executable).parent)),
        data_converter=pydantic_data_converter)
    await ensure_search_attributes(env.client)
    async with journey_worker(env, engine, ledger, "record"):
        inp, handle = await start_erasure(env, engine, "record")
        await env.sleep(601 * 60)
        done = await handle.execute_update(ErasureWorkflow.complete_task, TaskCompletion(
            task_id=f"erasure-approval-{inp.erasure_id}-e1", actor="compliance-1", role="compliance_officer",
            payload={"decision": "approve"}))
        assert done.result["status"] == "erased", done
        await handle.result()
        OUT.joinpath("erasure_escalated_erased.json").write_text((await handle.fetch_history()).to_json())
    await env.shutdown()
    engine.dispose()
    print(f"history written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())

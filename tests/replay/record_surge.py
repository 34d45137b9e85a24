"""Record the SurgeWatch histories that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_surge

One check that opens a manager task (one hour over capacity) and one calm check that resolves it.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.storage.migrate import upgrade
from deploy.seed import seed_demo
from deploy.settings import Settings
from tests.conftest import create_database
from tests.integration.ops.test_surge_workflow import FlatForecast, surge_worker
from workflows.surge import SurgeWatch
from workflows.surge_contracts import SurgeCheckInput

OUT = Path(__file__).with_name("histories")


async def main() -> None:
    url = create_database(os.environ.get("HMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
                          .replace("postgresql://", "postgresql+psycopg://"))
    upgrade(url)
    seed_demo(Settings(home=Path(f"/tmp/hms-record-{uuid.uuid4().hex[:6]}")), url)
    engine = sa.create_engine(url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server", path=str(Path(sys.executable).parent)),
        data_converter=pydantic_data_converter)
    start = datetime(2030, 6, 1, 9, tzinfo=UTC)
    for name, model, hour in (("surge_watch_alert.json", FlatForecast(1.0, peak=50.0), start),
                              ("surge_watch_calm.json", FlatForecast(1.0), start.replace(hour=10))):
        async with surge_worker(env.client, engine, "record", model):
            handle = await env.client.start_workflow(SurgeWatch.run, SurgeCheckInput(start=hour),
                                                     id=f"surge-watch-record-{uuid.uuid4().hex[:6]}",
                                                     task_queue="record")
            await handle.result()
            OUT.joinpath(name).write_text((await handle.fetch_history()).to_json())
    await env.shutdown()
    engine.dispose()
    print(f"histories written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())

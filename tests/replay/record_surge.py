"""Record the SurgeWatch histories that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_surge

One check that opens a manager task (one hour over capacity) and one calm check that resolves it.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from tests.integration.ops.test_surge_workflow import FlatForecast, surge_worker
from tests.replay.harness import OUT, recording
from workflows.surge import SurgeWatch
from workflows.surge_contracts import SurgeCheckInput


async def main() -> None:
    async with recording() as rec:
        env, engine = rec.env, rec.engine
        start = datetime(2030, 6, 1, 9, tzinfo=UTC)
        for name, model, hour in (("surge_watch_alert.json", FlatForecast(1.0, peak=50.0), start),
                                  ("surge_watch_calm.json", FlatForecast(1.0), start.replace(hour=10))):
            async with surge_worker(env.client, engine, "record", model):
                handle = await env.client.start_workflow(SurgeWatch.run, SurgeCheckInput(start=hour),
                                                         id=f"surge-watch-record-{uuid.uuid4().hex[:6]}",
                                                         task_queue="record")
                await handle.result()
                OUT.joinpath(name).write_text((await handle.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())

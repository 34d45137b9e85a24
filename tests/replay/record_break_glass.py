"""Record the BreakGlassReview history that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_break_glass

A grant revoked by its holder, a review left overdue (escalated once), then completed.
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
from tests.integration.security.test_break_glass_review import start_review
from workflows.break_glass import BreakGlassReview
from workflows.break_glass_contracts import RevokeRequest
from workflows.contracts import TaskCompletion

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
        inp, handle = await start_review(env, engine, "record")
        await env.sleep(600)
        await handle.execute_update(BreakGlassReview.revoke, RevokeRequest(by="attending-2"))
        await env.sleep(10 * 3600 + 60)
        await handle.execute_update(BreakGlassReview.complete_task, TaskCompletion(
            task_id=f"break-glass-review-{inp.grant_id}-e1", actor="compliance-1", role="compliance_officer",
            payload={"outcome": "appropriate"}))
        await handle.result()
        OUT.joinpath("break_glass_revoked_escalated.json").write_text((await handle.fetch_history()).to_json())
    await env.shutdown()
    engine.dispose()
    print(f"history written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())

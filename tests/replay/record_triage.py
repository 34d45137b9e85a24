"""Record the committed TriageWorkflow and IntakeWorkflow histories (run by hand after an intended change).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_triage

A triage with a rapid response that escalates, a re-assessment and physician seen; an
intake answered up to a red flag (which starts its triage as a child).
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
from tests.integration.triage.support import DETERIORATING, arrival, triage_done
from workflows.contracts import TaskCompletion
from workflows.intake import IntakeWorkflow
from workflows.triage import TriageWorkflow
from workflows.triage_contracts import IntakeAnswer, IntakeInput, PhysicianSeen

OUT = Path(__file__).with_name("histories")


async def record(env: WorkflowEnvironment, queue: str) -> None:
    inp = arrival(ack_seconds=300)
    h = await env.client.start_workflow(TriageWorkflow.run, inp, id=f"triage-{inp.triage_id}", task_queue=queue)
    await env.sleep(1)
    await h.execute_update(TriageWorkflow.complete_task, triage_done(inp.triage_id, DETERIORATING))
    await env.sleep(6 * 60)  # past the ack deadline (escalation) and the 5-minute re-assessment
    await h.execute_update(TriageWorkflow.complete_task, TaskCompletion(
        task_id=f"rapid-response-{inp.triage_id}-1-escalation", actor="attending-2", role="attending_physician"))
    await h.execute_update(TriageWorkflow.complete_task, triage_done(
        inp.triage_id, DETERIORATING, esi=2, reason="improving on oxygen",
        task_id=f"triage-{inp.triage_id}-reassess-1"))
    await h.execute_update(TriageWorkflow.physician_seen, PhysicianSeen("attending-1", "attending_physician"))
    await h.result()
    OUT.joinpath("triage_rapid_response_seen.json").write_text((await h.fetch_history()).to_json())

    intake_id = str(uuid.uuid4())
    ih = await env.client.start_workflow(IntakeWorkflow.run, IntakeInput(
        intake_id=intake_id, patient_id=inp.patient_id, requested_by="triage-nurse-1",
        complaint="chest pain since an hour", age=40), id=f"intake-{intake_id}", task_queue=queue)
    for value in ("under 1 hour", True, False, True):
        await ih.execute_update(IntakeWorkflow.answer, IntakeAnswer(value=value, actor="triage-nurse-1"))
    await ih.result()
    OUT.joinpath("intake_red_flag.json").write_text((await ih.fetch_history()).to_json())
    await env.client.get_workflow_handle(f"triage-{intake_id}").terminate("recorded")


async def main() -> None:
    url = create_database(os.environ.get("HMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
                          .replace("postgresql://", "postgresql+psycopg://"))
    upgrade(url)
    home = Path(f"/tmp/hms-record-{uuid.uuid4().hex[:6]}")
    seed_demo(Settings(home=home), url)
    engine = sa.create_engine(url)
    key, key_id = load_or_create_signing_key(home / "ledger.pem")
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server", path=str(Path(sys.executable).parent)),
        data_converter=pydantic_data_converter)
    await ensure_search_attributes(env.client)
    async with journey_worker(env, engine, EmbeddedLedger(engine, key, key_id), "record-triage"):
        await record(env, "record-triage")
    await env.shutdown()
    engine.dispose()
    print(f"histories written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())

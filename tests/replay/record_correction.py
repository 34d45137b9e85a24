"""Record the CorrectionRequest history that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_correction

A patient's correction request: the registration task opens, a first completion without a
reason for a rejection is refused by the validator, then the clerk accepts it.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.crypto.fields import ephemeral_cipher
from activities.storage import correction_repo
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from activities.storage.migrate import upgrade
from deploy.temporal_setup import ensure_search_attributes
from ledger.embedded import EmbeddedLedger
from ledger.keys import load_or_create_signing_key
from tests.conftest import create_database
from tests.integration.conftest import journey_worker
from workflows.contracts import TaskCompletion
from workflows.correction import TASK, CorrectionRequest
from workflows.correction_contracts import CorrectionRequestInput

OUT = Path(__file__).with_name("histories")


def stored_request(engine: sa.Engine) -> CorrectionRequestInput:
    """A registered patient and their stored request (the worker shares this process's cipher)."""
    cipher, sessions = ephemeral_cipher(), make_session_factory(engine)
    request_id = str(uuid.uuid4())
    with sessions() as s, s.begin():
        patient_id, _ = repo.register_patient(s, cipher, str(uuid.uuid4()), "urn:hms:mrn", f"REC-{request_id[:8]}",
                                              "Ravi", "Iyer", date(1975, 2, 3), "male")
        correction_repo.add(s, cipher, request_id=request_id, patient_id=patient_id, field="family",
                            proposed_value="Iyer-Raman", comment=None, requested_by="patient-1",
                            requested_at=datetime.now(UTC), workflow_id=f"correction-{request_id}")
    return CorrectionRequestInput(request_id=request_id, patient_id=patient_id, field="family",
                                  requested_by="patient-1")


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
        inp = stored_request(engine)
        handle = await env.client.start_workflow(CorrectionRequest.run, inp, id=f"correction-{inp.request_id}",
                                                 task_queue="record")
        while not (await handle.query(CorrectionRequest.state)).open_tasks:
            await asyncio.sleep(0.05)
        task_id = f"{TASK}-{inp.request_id}"
        try:
            await handle.execute_update(CorrectionRequest.complete_task, TaskCompletion(
                task_id=task_id, actor="registration-1", role="registration_clerk", payload={"decision": "rejected"}))
        except WorkflowUpdateFailedError:
            pass  # refused by the validator: a rejection needs a reason
        await env.sleep(3600)
        await handle.execute_update(CorrectionRequest.complete_task, TaskCompletion(
            task_id=task_id, actor="registration-1", role="registration_clerk",
            payload={"decision": "accepted", "reason": "matches the passport"}))
        await handle.result()
        OUT.joinpath("correction_accepted.json").write_text((await handle.fetch_history()).to_json())
    await env.shutdown()
    engine.dispose()
    print(f"history written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())

"""Record the CorrectionRequest history that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_correction

A patient's correction request: the registration task opens, a first completion without a
reason for a rejection is refused by the validator, then the clerk accepts it.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from temporalio.client import WorkflowUpdateFailedError

from activities.crypto.fields import ephemeral_cipher
from activities.storage import correction_repo
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from tests.integration.conftest import journey_worker
from tests.replay.harness import OUT, recording
from workflows.contracts import TaskCompletion
from workflows.correction import TASK, CorrectionRequest
from workflows.correction_contracts import CorrectionRequestInput


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
    async with recording(seed=False) as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
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


if __name__ == "__main__":
    asyncio.run(main())

"""Record the ErasureWorkflow history that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_erasure

A patient's own request whose approval was overdue (escalated once), then approved by a
compliance officer: the patient's data key is shredded.
"""
from __future__ import annotations

import asyncio

from tests.integration.conftest import journey_worker
from tests.integration.security.test_erasure import start_erasure
from tests.replay.harness import OUT, recording
from workflows.contracts import TaskCompletion
from workflows.erasure import ErasureWorkflow


async def main() -> None:
    async with recording(seed=False) as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        async with journey_worker(env, engine, ledger, "record"):
            inp, handle = await start_erasure(env, engine, "record")
            await env.sleep(601 * 60)
            done = await handle.execute_update(ErasureWorkflow.complete_task, TaskCompletion(
                task_id=f"erasure-approval-{inp.erasure_id}-e1", actor="compliance-1", role="compliance_officer",
                payload={"decision": "approve"}))
            assert done.result["status"] == "erased", done
            await handle.result()
            OUT.joinpath("erasure_escalated_erased.json").write_text((await handle.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())

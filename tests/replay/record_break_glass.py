"""Record the BreakGlassReview history that CI replays (run by hand when the workflow changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_break_glass

A grant revoked by its holder, a review left overdue (escalated once), then completed.
"""
from __future__ import annotations

import asyncio

from tests.integration.conftest import journey_worker
from tests.integration.security.test_break_glass_review import start_review
from tests.replay.harness import OUT, recording
from workflows.break_glass import BreakGlassReview
from workflows.break_glass_contracts import RevokeRequest
from workflows.contracts import TaskCompletion


async def main() -> None:
    async with recording(seed=False) as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
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


if __name__ == "__main__":
    asyncio.run(main())

"""Record the committed TriageWorkflow and IntakeWorkflow histories (run by hand after an intended change).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_triage

A triage with a rapid response that escalates, a re-assessment and physician seen; an
intake answered up to a red flag (which starts its triage as a child).
"""
from __future__ import annotations

import asyncio
import uuid

from temporalio.testing import WorkflowEnvironment

from tests.integration.conftest import journey_worker
from tests.integration.triage.support import DETERIORATING, arrival, triage_done
from tests.replay.harness import OUT, recording
from workflows.contracts import TaskCompletion
from workflows.intake import IntakeWorkflow
from workflows.triage import TriageWorkflow
from workflows.triage_contracts import IntakeAnswer, IntakeInput, PhysicianSeen


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
    async with recording() as rec:
        env, engine = rec.env, rec.engine
        async with journey_worker(env, engine, rec.ledger, "record-triage"):
            await record(env, "record-triage")


if __name__ == "__main__":
    asyncio.run(main())

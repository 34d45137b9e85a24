"""Record the histories of results reaching a journey (run by hand when these workflows change on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_results

A journey admits; a normal and a critical result are signalled to it; the critical one starts a
``result-review`` stage whose task goes unacknowledged past one SLA (escalated) and is then
acknowledged by the attending; the stay is discharged. Writes ``journey_results.json`` and
``result_review_escalated_then_acknowledged.json``.
"""
from __future__ import annotations

import asyncio
import uuid

from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import journey_input
from tests.replay.harness import OUT, recording
from workflows.contracts import DischargeRequest, ResultNotice, TaskCompletion
from workflows.journey import PatientJourney
from workflows.result_review import TASK, ResultReviewWorkflow


async def main() -> None:
    async with recording() as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        async with journey_worker(env, engine, ledger, "record"):
            inp = journey_input()
            journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue="record")
            while (await journey.query(PatientJourney.state)).stage != "admitted":
                await asyncio.sleep(0.05)
            critical = str(uuid.uuid4())
            await journey.signal(PatientJourney.result_posted, ResultNotice(observation_id=str(uuid.uuid4()),
                                                                            code="8867-4", interpretation="N",
                                                                            source="hl7"))
            await journey.signal(PatientJourney.result_posted, ResultNotice(observation_id=critical, code="2823-3",
                                                                            interpretation="HH", source="fhir"))
            review = env.client.get_workflow_handle_for(ResultReviewWorkflow.run, f"result-review-{critical}")
            while True:
                try:
                    if (await review.query(ResultReviewWorkflow.state)).open_tasks:
                        break
                except Exception:  # noqa: BLE001 - not started yet
                    pass
                await asyncio.sleep(0.05)
            await env.sleep(31 * 60)  # one SLA passes: escalated
            await review.execute_update(ResultReviewWorkflow.complete_task, TaskCompletion(
                task_id=f"{TASK}-{critical}", actor="attending-1", role="attending_physician",
                payload={"action": "acknowledged"}))
            await review.result()
            await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
            await journey.result()
            OUT.joinpath("journey_results.json").write_text((await journey.fetch_history()).to_json())
            OUT.joinpath("result_review_escalated_then_acknowledged.json").write_text(
                (await review.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())

"""Results reach the journey; a critical one tasks the physician until they have seen it (dev server, PostgreSQL)."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.crypto.fields import ephemeral_cipher
from activities.storage import tasks as task_store
from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import wait_stage
from tests.integration.workflows.test_journey_discharge import (
    eventually,
    journey_state,
    start_journey,
    task_status,
)
from workflows.contracts import DischargeRequest, ResultNotice, TaskCompletion
from workflows.journey import PatientJourney
from workflows.result_review import ResultReviewInput, ResultReviewWorkflow

pytestmark = pytest.mark.integration


def _task_details(engine: sa.Engine, task_id: str) -> dict | None:
    """The details as the inbox serves them (the clinical keys are sealed at rest)."""
    with Session(engine) as s:
        task = task_store.read_task(s, ephemeral_cipher(), task_id)
        return None if task is None else task.details


async def test_results_are_recorded_and_a_critical_one_is_reviewed(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    client = temporal_env.client
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await start_journey(client, task_queue)
        await wait_stage(journey, "admitted")
        normal, critical = str(uuid.uuid4()), str(uuid.uuid4())
        await journey.signal(PatientJourney.result_posted, ResultNotice(observation_id=normal, code="2345-7",
                                                                        interpretation="N", source="hl7"))
        await journey.signal(PatientJourney.result_posted, ResultNotice(observation_id=critical, code="2823-3",
                                                                        interpretation="HH", source="fhir"))
        # The same result again (a resend, now amended) is one result, not two, and starts no second review.
        await journey.signal(PatientJourney.result_posted, ResultNotice(
            observation_id=critical, code="2823-3", status="amended", interpretation="HH", source="fhir"))

        async def reviewed_started():
            state = await journey_state(journey)
            return state if any(s.kind == "result-review" for s in state.stages) else None

        state = await eventually(reviewed_started)
        assert [(r.observation_id, r.interpretation) for r in state.results] == [(normal, "N"), (critical, "HH")]
        assert state.results[1].status == "amended" and state.results[0].received_at is not None
        [review] = [s for s in state.stages if s.kind == "result-review"]
        assert (review.stage_id, review.status) == (critical, "running")

        task_id = f"review-critical-result-{critical}"
        await eventually(lambda: asyncio.to_thread(task_status, db_engine, task_id))
        details = _task_details(db_engine, task_id)
        assert details["observation_id"] == critical and details["interpretation"] == "HH"
        handle = client.get_workflow_handle_for(ResultReviewWorkflow.run, review.workflow_id)
        with pytest.raises(WorkflowUpdateFailedError) as bad:
            await handle.execute_update(ResultReviewWorkflow.complete_task, TaskCompletion(
                task_id=task_id, actor="attending-1", role="attending_physician", payload={"action": "ignored"}))
        assert bad.value.cause.type == "InvalidTaskPayload"
        with pytest.raises(WorkflowUpdateFailedError) as wrong:
            await handle.execute_update(ResultReviewWorkflow.complete_task, TaskCompletion(
                task_id=task_id, actor="nurse-medical-1", role="nurse", payload={"action": "acknowledged"}))
        assert wrong.value.cause.type == "WrongRole"
        await handle.execute_update(ResultReviewWorkflow.complete_task, TaskCompletion(
            task_id=task_id, actor="attending-1", role="attending_physician", payload={"action": "acted"}))

        async def review_done():
            s = await journey_state(journey)
            done = [x for x in s.stages if x.kind == "result-review" and x.status == "completed"]
            return done[0] if done else None

        done = await eventually(review_done)
        assert done.result == {"observation_id": critical, "status": "reviewed", "action": "acted", "escalations": 0}
        assert task_status(db_engine, task_id) == "completed"
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await journey.result()
    assert len(final.results) == 2 and len([s for s in final.stages if s.kind == "result-review"]) == 1


async def test_an_unreviewed_critical_result_is_escalated_until_seen_and_cancelled_with_the_stay(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    """The review alone, with an SLA of a second: escalated twice (the limit), still open, cancelled by its parent."""
    client = temporal_env.client
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await start_journey(client, task_queue)
        state = await wait_stage(journey, "admitted")
        critical = str(uuid.uuid4())
        review = await client.start_workflow(ResultReviewWorkflow.run, ResultReviewInput(
            review_id=critical, patient_id=state.patient_id, journey_id=state.journey_id,
            encounter_id=state.encounter_id, ward=state.ward, observation_id=critical, code="6298-4",
            interpretation="LL", attending=state.attending, due_minutes=1 / 60, max_escalations=2),
            id=f"result-review-{critical}", task_queue=task_queue)

        async def escalated_twice() -> bool:
            return (await review.query(ResultReviewWorkflow.state)).escalations >= 2

        await eventually(escalated_twice)
        task_id = f"review-critical-result-{critical}"

        async def projected_twice() -> bool:  # the inbox row follows the workflow's state by one activity
            details = await asyncio.to_thread(_task_details, db_engine, task_id)
            return bool(details) and details["escalation_level"] == 2

        await eventually(projected_twice)
        assert task_status(db_engine, task_id) == "open"
        await asyncio.sleep(2.5)  # past the limit nothing more is escalated, and the task stays open
        assert (await review.query(ResultReviewWorkflow.state)).escalations == 2
        await review.cancel()
        with pytest.raises(WorkflowFailureError):
            await review.result()
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()
    assert task_status(db_engine, task_id) == "cancelled"


async def test_several_results_in_one_signal_are_each_recorded_once(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    """``results_posted`` (a FHIR Bundle's results for one stay) is the same as one ``result_posted`` each."""
    client = temporal_env.client
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await start_journey(client, task_queue)
        await wait_stage(journey, "admitted")
        ids = [str(uuid.uuid4()) for _ in range(3)]
        batch = [ResultNotice(observation_id=i, code="2345-7", interpretation="N", source="fhir") for i in ids]
        batch.append(ResultNotice(observation_id=ids[0], code="2345-7", status="amended", interpretation="HH",
                                  source="fhir"))  # the first again, now critical
        await journey.signal(PatientJourney.results_posted, batch)

        async def reviewed():
            state = await journey_state(journey)
            return state if any(s.kind == "result-review" for s in state.stages) else None

        state = await eventually(reviewed)
        assert [(r.observation_id, r.status, r.interpretation) for r in state.results] == [
            (ids[0], "amended", "HH"), (ids[1], "final", "N"), (ids[2], "final", "N")]
        assert [s.stage_id for s in state.stages if s.kind == "result-review"] == [ids[0]]

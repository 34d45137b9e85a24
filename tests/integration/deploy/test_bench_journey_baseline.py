"""The journey bench's references run what they claim: the single workflow, and the same work as a tree."""
from __future__ import annotations

import dataclasses

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from deploy.bench_baseline import noop
from deploy.bench_journey import bare_journey, count_work
from deploy.bench_journey_baseline import BareJourneyWorkflow, BarePlan, BareStageWorkflow


async def test_the_shaped_reference_does_the_same_work_in_child_workflows(
        temporal_env: WorkflowEnvironment, task_queue: str) -> None:
    client = temporal_env.client
    plan = BarePlan(activities=9, updates=3, local_activities=2)
    shaped = dataclasses.replace(plan, children=2)
    async with Worker(client, task_queue=task_queue, workflows=[BareJourneyWorkflow, BareStageWorkflow],
                      activities=[noop]):
        ids = [f"{task_queue}-single", f"{task_queue}-tree"]
        for p, workflow_id in zip((plan, shaped), ids, strict=True):
            assert await bare_journey(client, task_queue, p, workflow_id) == plan.activities
    single, tree = [await count_work(client, [i]) for i in ids]
    for work in (single, tree):
        assert (work.activities, work.local_activities, work.updates) == (9, 2, 3)
    assert (single.workflows, tree.workflows) == (1, 3)
    history = [e async for e in client.get_workflow_handle(ids[1]).fetch_history_events()]
    assert sum(e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED for e in history) == 2

"""An inference worker on its own task queue scores the imaging pre-screen a journey's order routes to it.

Two workers as the cluster runs them: the journeys role (every workflow and activity) on one queue,
the inference role (``deploy.worker_roles``: the model activities only, no workflows) on another.
The order carries the inference queue (``StageRequest.inference_task_queue``, set by the API from
``HMS_INFERENCE_TASK_QUEUE``), and the workflow history shows the pre-screen scheduled there.
"""
from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import build_activities
from activities.storage.db import make_session_factory
from deploy.settings import Settings
from deploy.worker_roles import resolve, select_activities, select_workflows
from ledger.embedded import EmbeddedLedger
from ml.runtime import ModelRegistry
from tests.integration.conftest import journey_worker
from tests.integration.imaging.helpers import attach_dicom, order_payload, rg1_bytes, wait_imaging
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows.contracts import DischargeRequest
from workflows.imaging import ImagingWorkflow
from workflows.journey import PatientJourney
from workflows.registry import WORKFLOWS
from workflows.stages import StageRequest

pytestmark = pytest.mark.integration


def inference_worker(client: Client, engine: sa.Engine, ledger: EmbeddedLedger, models: ModelRegistry,
                     settings: Settings) -> Worker:
    role = resolve("inference", settings)
    activities = select_activities(role, build_activities(make_session_factory(engine), ledger, models))
    return Worker(client, task_queue=role.task_queue, workflows=select_workflows(role, WORKFLOWS),
                  activities=activities, activity_executor=ThreadPoolExecutor(2))


async def start_routed_order(client: Client, journey: WorkflowHandle, queue: str) -> WorkflowHandle:
    status = await journey.execute_update(PatientJourney.start_stage, StageRequest(
        kind="imaging", stage_id=str(uuid.uuid4()), requested_by="attending-1",
        payload=order_payload(priority="urgent"), inference_task_queue=queue))
    return client.get_workflow_handle_for(ImagingWorkflow.run, status.workflow_id)


async def scheduled_queues(handle: WorkflowHandle) -> dict[str, str]:
    """Activity type -> the task queue it was scheduled on, from the workflow's history."""
    queues: dict[str, str] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            queues[attrs.activity_type.name] = attrs.task_queue.name
    return queues


async def test_inference_worker_scores_the_prescreen_on_its_own_queue(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger,
        model_registry: ModelRegistry, task_queue: str) -> None:
    env = temporal_env  # no timers here; see the next test for why not the shared time-skipping server
    settings = Settings(task_queue=task_queue, inference_task_queue=f"{task_queue}-inference")
    journeys = resolve("journeys", settings)
    assert journeys.task_queue == task_queue
    async with journey_worker(env, db_engine, ledger, journeys.task_queue, model_registry), \
            inference_worker(env.client, db_engine, ledger, model_registry, settings):
        inp = journey_input()
        journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=task_queue)
        await wait_stage(journey, "admitted")
        order = await start_routed_order(env.client, journey, settings.inference_task_queue or "")
        await wait_imaging(order, lambda s: s.assigned_to is not None)
        await attach_dicom(db_engine, order, rg1_bytes())
        state = await wait_imaging(order, lambda s: s.status == "awaiting-report")
        assert state.prescreen is not None and state.prescreen.status == "scored"
        assert state.prescreen.model_version.startswith("imaging-prescreen-")

        queues = await scheduled_queues(order)
        assert queues["imaging_prescreen"] == settings.inference_task_queue
        assert queues["imaging_create_order"] == task_queue  # storage stays on the journeys queue
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()


async def test_without_an_inference_worker_the_prescreen_waits_on_its_queue(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger,
        model_registry: ModelRegistry, task_queue: str) -> None:
    """The journeys worker registers the pre-screen too, yet never takes it from the inference queue.

    On the dev server: left on the shared time-skipping server, the never-started pre-screen of the
    cancelled stage stopped time skipping for the timer tests that ran after it.
    """
    env = temporal_env
    async with journey_worker(env, db_engine, ledger, task_queue, model_registry):
        inp = journey_input()
        journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=task_queue)
        await wait_stage(journey, "admitted")
        order = await start_routed_order(env.client, journey, f"{task_queue}-inference")
        await wait_imaging(order, lambda s: s.assigned_to is not None)
        await attach_dicom(db_engine, order, rg1_bytes())
        for _ in range(100):
            if "imaging_prescreen" in await scheduled_queues(order):
                break
            await asyncio.sleep(0.1)
        description = await order.describe()
        pending = [a.activity_type.name for a in description.raw_description.pending_activities]
        assert pending == ["imaging_prescreen"]
        state = await order.query(ImagingWorkflow.state)
        assert state.prescreen is None and state.status != "awaiting-report"
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()

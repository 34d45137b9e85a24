"""A pharmacy stage cancelled while one of its first activities runs still closes its order.

The order is created and closed by the real activities; the safety check is held open (heartbeating,
never answering), as a slow check would be. Cancelling the stage then reaches a running activity,
which surfaces in the workflow as that activity's error rather than as a cancelled task; the stage
must compensate all the same.
"""
from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.pharmacy import PharmacyActivities
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.pharmacy.conftest import admit
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import CheckInput, CheckResult, MedicationOrderSpec, PharmacyInput

pytestmark = pytest.mark.integration


@activity.defn(name="pharmacy_check_order")
async def held_check(inp: CheckInput) -> CheckResult:
    """A check that is still running when the stage is cancelled (it ends when cancelled itself)."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.2)


def _status(engine: sa.Engine, order_id: str) -> str | None:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT status FROM hms.medication_orders WHERE id = :o"), {"o": order_id}).scalar()


async def test_cancel_while_the_order_is_being_checked_closes_it(temporal_env: WorkflowEnvironment,
                                                                 db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                                 task_queue: str) -> None:
    # On the dev server: a held activity left on the shared time-skipping server stops its time skipping.
    env = temporal_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        _, state = await admit(env, task_queue)
    order_id, queue = str(uuid.uuid4()), f"{task_queue}-early-cancel"
    pharmacy = PharmacyActivities(make_session_factory(db_engine), ledger)
    inp = PharmacyInput(order_id=order_id, journey_id=state.journey_id, patient_id=state.patient_id,
                        encounter_id=state.encounter_id, ward=state.ward, requested_by="attending-1",
                        order=MedicationOrderSpec(drug_code="723", dose=500, unit="mg", route="PO",
                                                  frequency_hours=8, doses=3))
    async with Worker(env.client, task_queue=queue, workflows=[PharmacyWorkflow],
                      activities=[pharmacy.create_order, held_check, pharmacy.close_order],
                      activity_executor=ThreadPoolExecutor(2)):
        handle = await env.client.start_workflow(PharmacyWorkflow.run, inp, id=f"pharmacy-{order_id}",
                                                 task_queue=queue)
        for _ in range(300):
            if _status(db_engine, order_id) is not None:
                break
            await asyncio.sleep(0.1)
        assert _status(db_engine, order_id) == "pending-verification"
        await handle.cancel()
        for _ in range(300):
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.1)
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert _status(db_engine, order_id) == "cancelled"

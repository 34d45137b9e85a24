"""ImagingWorkflow bills the study once when it is received: redelivered charges, replay, cancellation."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.billing_tariff import load_tariff
from ledger.embedded import EmbeddedLedger
from ml.runtime import ModelRegistry
from tests.integration.billing.stage_charges import (
    Gate,
    assert_replays,
    charge_attempts,
    charge_audits,
    charge_count,
    charges,
    gated_worker,
    lossy_charge_worker,
)
from tests.integration.imaging.helpers import (
    REPORT,
    attach_dicom,
    order_payload,
    rg1_bytes,
    start_order,
    wait_imaging,
)
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows.contracts import DischargeRequest, TaskCompletion
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import report_task_id
from workflows.journey import PatientJourney

pytestmark = pytest.mark.integration


async def test_received_study_is_charged_once_despite_a_redelivered_charge_and_replay(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        model_registry: ModelRegistry) -> None:
    env = time_skipping_env
    async with lossy_charge_worker(env, db_engine, ledger, task_queue, model_registry):
        inp = journey_input()
        journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=task_queue)
        await wait_stage(journey, "admitted")
        order = await start_order(env.client, journey, order_payload(priority="urgent"))
        state = await wait_imaging(order, lambda s: s.assigned_to is not None)
        key = f"imaging:study-{state.order_id}"
        assert charge_count(db_engine, key) == 0  # ordered, not yet acquired: nothing to bill
        await attach_dicom(db_engine, order, rg1_bytes())
        state = await wait_imaging(order, lambda s: s.status == "awaiting-report")
        # The first delivery committed and then failed; the redelivery found the charge and added none.
        [row] = charges(db_engine, inp.encounter_id)
        assert row.idempotency_key == key and row.code == "IMG-XR" and row.quantity == 1
        assert row.amount == load_tariff().price("IMG-XR", 1) == Decimal("450.00")
        assert (row.patient_id, row.journey_id, row.source, row.source_id) == (
            inp.patient_id, inp.journey_id, "imaging", state.study_id)
        assert charge_audits(ledger, inp.patient_id) == 1  # the retried attempt re-sent the same ledger entry

        await order.execute_update(ImagingWorkflow.complete_task, TaskCompletion(
            task_id=report_task_id(state.order_id), actor="radiologist-1", role="radiologist", payload=REPORT))
        assert (await order.result()).status == "reported"
        assert await charge_attempts(order) == [2]
        await assert_replays(order)
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()
    assert charge_count(db_engine, key) == 1 and len(charges(db_engine, inp.encounter_id)) == 1


async def test_discharge_bills_a_received_study_but_not_an_order_without_one(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        model_registry: ModelRegistry) -> None:
    env = time_skipping_env
    async with lossy_charge_worker(env, db_engine, ledger, task_queue, model_registry):
        inp = journey_input()
        journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=task_queue)
        await wait_stage(journey, "admitted")
        acquired = await start_order(env.client, journey, order_payload(priority="routine"))
        waiting = await start_order(env.client, journey, {**order_payload(priority="routine"), "modality": "CT"})
        await attach_dicom(db_engine, acquired, rg1_bytes())
        done = await wait_imaging(acquired, lambda s: s.status == "awaiting-report")
        never = await wait_imaging(waiting, lambda s: s.assigned_to is not None)
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await journey.result()
        assert {s.status for s in final.stages if s.kind == "imaging"} == {"cancelled"}
        await assert_replays(acquired)
        await assert_replays(waiting)
    # Both orders were revoked by the discharge; only the one whose study arrived is billed.
    assert [r.idempotency_key for r in charges(db_engine, inp.encounter_id)] == [f"imaging:study-{done.order_id}"]
    assert charge_count(db_engine, f"imaging:study-{never.order_id}") == 0
    with db_engine.connect() as c:
        statuses = c.execute(sa.text("SELECT status FROM hms.imaging_orders WHERE id IN (:a, :b)"),
                             {"a": done.order_id, "b": never.order_id}).scalars().all()
    assert statuses == ["revoked", "revoked"]


async def test_charge_cut_short_by_discharge_is_delivered_again_and_stored_once(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        model_registry: ModelRegistry) -> None:
    env, gate = temporal_env, Gate()
    try:
        async with gated_worker(env, db_engine, ledger, task_queue, model_registry, "record_charge", gate):
            inp = journey_input()
            journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id,
                                                      task_queue=task_queue)
            await wait_stage(journey, "admitted")
            order = await start_order(env.client, journey, order_payload(priority="routine"))
            await attach_dicom(db_engine, order, rg1_bytes())
            assert await asyncio.to_thread(gate.entered.wait, 30)  # committed, its completion not yet reported
            await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
            final = await journey.result()
            [stage] = final.stages
            assert stage.status == "cancelled"
            # The compensation charged again under the same key while the first delivery was still out.
            assert len(await charge_attempts(order)) == 2
            gate.release.set()  # before the worker stops: it waits for the held call
            await assert_replays(order)
    finally:
        gate.release.set()
    [row] = charges(db_engine, inp.encounter_id)
    assert row.idempotency_key == f"imaging:study-{stage.stage_id}" and row.amount == Decimal("450.00")

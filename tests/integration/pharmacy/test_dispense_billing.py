"""PharmacyWorkflow bills the dispense once, right after stock is taken; undispensed orders bill nothing."""
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
from tests.integration.pharmacy.conftest import (
    admit,
    complete,
    give,
    movements,
    on_hand,
    open_task,
    order,
    order_id_of,
    verify,
)
from workflows.contracts import DischargeRequest
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import CancelOrder

pytestmark = pytest.mark.integration
IBUPROFEN = {"drug_code": "5640", "dose": 400, "unit": "mg", "route": "PO", "frequency_hours": 8, "doses": 4}


async def test_dispense_is_charged_once_and_a_later_return_is_not_credited(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        model_registry: ModelRegistry) -> None:
    env = time_skipping_env
    async with lossy_charge_worker(env, db_engine, ledger, task_queue, model_registry):
        journey, state = await admit(env, task_queue)
        handle = await order(env, journey, IBUPROFEN)  # 4 doses × 2 tablets
        key = f"dispense:{order_id_of(handle)}"
        await open_task(db_engine, handle.id, "medication-verification")
        assert charge_count(db_engine, key) == 0  # nothing dispensed yet
        await verify(db_engine, handle)
        await give(db_engine, handle)  # dose 1 opens only after the dispense and its charge
        [row] = charges(db_engine, state.encounter_id)
        assert (row.idempotency_key, row.code, row.quantity) == (key, "RX-DISPENSE", 8)
        assert row.amount == load_tariff().price("RX-DISPENSE", 8) == Decimal("284.00")
        assert (row.patient_id, row.journey_id, row.source, row.source_id) == (
            state.patient_id, state.journey_id, "pharmacy", order_id_of(handle))

        cancelled = await handle.execute_update(PharmacyWorkflow.cancel_order,
                                                CancelOrder(requested_by="attending-1", reason="switched to IV"))
        assert (cancelled.status, cancelled.returned_units) == ("cancelled", 6)
        await handle.result()
        assert movements(db_engine, order_id_of(handle)) == [("dispense", -8), ("return", 6)]
        # Charges are dispensed-only: the return moves stock back and leaves the charge as it was.
        assert charges(db_engine, state.encounter_id) == [row]
        assert await charge_attempts(handle) == [2]  # the first delivery committed, then was lost
        assert charge_audits(ledger, state.patient_id) == 1
        await assert_replays(handle)
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()
    assert charge_count(db_engine, key) == 1


async def test_rejected_or_cancelled_before_dispense_is_not_charged(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        model_registry: ModelRegistry) -> None:
    env = time_skipping_env
    async with lossy_charge_worker(env, db_engine, ledger, task_queue, model_registry):
        journey, state = await admit(env, task_queue)
        rejected = await order(env, journey, IBUPROFEN)
        task = await open_task(db_engine, rejected.id, "medication-verification")
        await complete(rejected, task["id"], "pharmacist-1", "pharmacist",
                       {"decision": "reject", "reason": "renal dose adjustment needed"})
        assert (await rejected.result()).status == "rejected"

        withdrawn = await order(env, journey, IBUPROFEN)
        await open_task(db_engine, withdrawn.id, "medication-verification")
        await withdrawn.execute_update(PharmacyWorkflow.cancel_order,
                                       CancelOrder(requested_by="attending-1", reason="no longer indicated"))
        assert (await withdrawn.result()).status == "cancelled"

        pending = await order(env, journey, IBUPROFEN)  # still awaiting verification at discharge
        await open_task(db_engine, pending.id, "medication-verification")
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await journey.result()
        assert sorted(s.status for s in final.stages) == ["cancelled", "completed", "completed"]
        for handle in (rejected, withdrawn, pending):
            assert movements(db_engine, order_id_of(handle)) == []
            assert await charge_attempts(handle) == []
            await assert_replays(handle)
    assert charges(db_engine, state.encounter_id) == []


async def test_discharge_during_the_dispense_returns_the_stock_and_bills_nothing(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        model_registry: ModelRegistry) -> None:
    env, gate = temporal_env, Gate()
    try:
        async with gated_worker(env, db_engine, ledger, task_queue, model_registry, "pharmacy_dispense", gate):
            journey, state = await admit(env, task_queue)
            before = on_hand(db_engine, "5640")
            handle = await order(env, journey, IBUPROFEN)
            await verify(db_engine, handle)
            assert await asyncio.to_thread(gate.entered.wait, 30)  # stock taken, the completion not yet reported
            assert on_hand(db_engine, "5640") == before - 8
            await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
            final = await journey.result()
            [stage] = final.stages
            assert stage.status == "cancelled"
            await assert_replays(handle)
            gate.release.set()  # before the worker stops: it waits for the held call
    finally:
        gate.release.set()
    # The course never saw its dispense: the compensation put every unit back, so nothing is billed.
    assert movements(db_engine, order_id_of(handle)) == [("dispense", -8), ("return", 8)]
    assert on_hand(db_engine, "5640") == before
    assert charges(db_engine, state.encounter_id) == []

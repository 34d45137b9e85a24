"""PharmacyWorkflow as a journey stage on the time-skipping server: a whole course of doses in seconds."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.pharmacy.conftest import (
    AMOXICILLIN,
    admit,
    complete,
    give,
    mar,
    movements,
    on_hand,
    open_task,
    order,
    order_id_of,
    refused,
    verify,
)
from workflows.contracts import DischargeRequest
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import CancelOrder

pytestmark = pytest.mark.integration
HOUR = 3600


async def test_full_course_every_eight_hours(time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine,
                                            ledger: EmbeddedLedger, task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, state = await admit(env, task_queue)
        before = on_hand(db_engine, "723")
        handle = await order(env, journey, {**AMOXICILLIN, "dose": 1000, "duration_days": 1})  # 3 doses × 2 caps
        verification = await verify(db_engine, handle)
        assert verification["role"] == "pharmacist" and verification["details"]["hits"] == []
        first = await give(db_engine, handle)
        assert first["role"] == "nurse" and first["ward_id"] == "medical"
        assert first["details"]["dose_number"] == 1 and first["details"]["drug_code"] == "723"
        assert on_hand(db_engine, "723") == before - 6
        for n in (2, 3):
            await env.sleep(8 * HOUR)
            task = await give(db_engine, handle)
            assert task["details"]["dose_number"] == n
        result = await handle.result()
        assert (result.status, result.doses_given, result.dispensed_units, result.returned_units) == (
            "completed", 3, 6, 0)
        assert result.escalations == 0
        order_id = order_id_of(handle)
        assert mar(db_engine, order_id) == [(1, "given"), (2, "given"), (3, "given")]
        assert movements(db_engine, order_id) == [("dispense", -6)]
        assert on_hand(db_engine, "723") == before - 6
        journey_state = await journey.query(PatientJourney.state)
        [stage] = journey_state.stages
        assert stage.kind == "pharmacy" and stage.status == "completed" and stage.result["status"] == "completed"
        entries = [e.event for e in ledger.query(patient_id=state.patient_id)]
        assert {"medication.order", "medication.check", "medication.dispense",
                "medication.administration.given"} <= {e.subtype for e in entries}
        assert all("Verma" not in e.reason and "Asha" not in e.reason for e in entries)
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()


async def test_missed_dose_escalates_to_the_attending(time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                      ledger: EmbeddedLedger, task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, _ = await admit(env, task_queue)
        before = on_hand(db_engine, "161")
        handle = await order(env, journey, {"drug_code": "161", "dose": 1000, "unit": "mg", "route": "PO",
                                            "frequency_hours": 6, "doses": 2})
        await verify(db_engine, handle)
        dose1 = await open_task(db_engine, handle.id, "medication-administration")
        await env.sleep(2 * HOUR)  # past due + grace (60 min) with dose 1 unrecorded
        escalation = await open_task(db_engine, handle.id, "missed-dose")
        assert escalation["role"] == "attending_physician" and escalation["details"]["dose_number"] == 1
        assert escalation["details"]["dose_task_id"] == dose1["id"]
        assert (await handle.query(PharmacyWorkflow.order_state)).escalations == 1
        message = await refused(complete(handle, escalation["id"], "attending-1", "attending_physician",
                                         {"decision": "cancel-order"}))
        assert message == "payload.reason: required when decision is cancel-order"
        await open_task(db_engine, handle.id, "missed-dose")  # a refused payload leaves the task open
        await complete(handle, escalation["id"], "attending-1", "attending_physician",
                       {"decision": "continue", "reason": "reviewed; continue the course"})
        await env.sleep(4 * HOUR)  # dose 2 falls due: dose 1 is recorded as missed
        dose2 = await give(db_engine, handle)
        assert dose2["details"]["dose_number"] == 2
        order_id = order_id_of(handle)
        assert mar(db_engine, order_id) == [(1, "missed"), (2, "given")]
        result = await handle.result()
        assert (result.status, result.doses_given, result.escalations, result.returned_units) == ("completed", 1, 1, 2)
        assert on_hand(db_engine, "161") == before - 2  # 4 tablets out, the 2 of the missed dose back
        assert movements(db_engine, order_id) == [("dispense", -4), ("return", 2)]
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()


async def test_cancel_mid_course_stops_doses_and_returns_stock_once(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, _ = await admit(env, task_queue)
        before = on_hand(db_engine, "5640")
        handle = await order(env, journey, {"drug_code": "5640", "dose": 400, "unit": "mg", "route": "PO",
                                            "frequency_hours": 8, "doses": 4})
        await verify(db_engine, handle)
        await give(db_engine, handle)
        await env.sleep(8 * HOUR)
        dose2 = await open_task(db_engine, handle.id, "medication-administration")
        state = await handle.execute_update(PharmacyWorkflow.cancel_order,
                                            CancelOrder(requested_by="attending-1", reason="switched to IV"))
        assert (state.status, state.returned_units) == ("cancelled", 6)  # 3 doses × 2 tablets not given
        await refused(handle.execute_update(PharmacyWorkflow.cancel_order,
                                            CancelOrder(requested_by="attending-1", reason="again")))
        result = await handle.result()
        assert (result.status, result.doses_given, result.returned_units) == ("cancelled", 1, 6)
        order_id = order_id_of(handle)
        assert movements(db_engine, order_id) == [("dispense", -8), ("return", 6)]
        assert on_hand(db_engine, "5640") == before - 2
        with db_engine.connect() as c:
            statuses = dict(c.execute(sa.text("SELECT type, status FROM hms.tasks WHERE id = :t"), {"t": dose2["id"]}).all())
            assert statuses == {"medication-administration": "cancelled"}
            assert c.execute(sa.text("SELECT status FROM hms.medication_orders WHERE id = :o"),
                             {"o": order_id}).scalar() == "cancelled"
            assert c.execute(sa.text("SELECT count(*) FROM hms.tasks WHERE workflow_id = :w AND type = "
                                     "'medication-administration'"), {"w": handle.id}).scalar() == 2
        await env.sleep(24 * HOUR)
        assert on_hand(db_engine, "5640") == before - 2
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()


async def test_discharge_cancels_the_stage_and_compensates(time_skipping_env: WorkflowEnvironment,
                                                           db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                           task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, _ = await admit(env, task_queue)
        before = on_hand(db_engine, "26225")
        handle = await order(env, journey, {"drug_code": "26225", "dose": 4, "unit": "mg", "route": "PO",
                                            "frequency_hours": 12, "doses": 3})
        await verify(db_engine, handle)
        await give(db_engine, handle)
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await journey.result()
        [stage] = final.stages
        assert stage.status == "cancelled"
        assert movements(db_engine, order_id_of(handle)) == [("dispense", -3), ("return", 2)]
        assert on_hand(db_engine, "26225") == before - 1

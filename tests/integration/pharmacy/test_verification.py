"""Pharmacist verification, safety findings and stock shortage on the time-skipping server."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.pharmacy.conftest import (
    admit,
    complete,
    give,
    movements,
    on_hand,
    open_task,
    order,
    order_id_of,
    refused,
)
from workflows.contracts import DischargeRequest
from workflows.journey import PatientJourney

pytestmark = pytest.mark.integration

WARFARIN = {"drug_code": "11289", "dose": 5, "unit": "mg", "route": "PO", "frequency_hours": 24, "doses": 2}
#: A long course, so no skipped time can finish it before the discharge cancels it.
ASPIRIN = {"drug_code": "1191", "dose": 75, "unit": "mg", "route": "PO", "frequency_hours": 24, "doses": 30}


async def test_pharmacist_rejects_and_the_stage_ends_rejected(time_skipping_env: WorkflowEnvironment,
                                                              db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                              task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, _ = await admit(env, task_queue)
        before = on_hand(db_engine, "2551")
        handle = await order(env, journey, {"drug_code": "2551", "dose": 500, "unit": "mg", "route": "PO",
                                            "frequency_hours": 12, "doses": 6})
        task = await open_task(db_engine, handle.id, "medication-verification")
        assert await refused(complete(handle, task["id"], "pharmacist-1", "pharmacist",
                                      {"decision": "reject"})) == "payload.reason: required when decision is reject"
        assert await refused(complete(handle, task["id"], "nurse-medical-1", "nurse",
                                      {"decision": "reject", "reason": "x"})) == f"task {task['id']} is for the pharmacist role"
        await complete(handle, task["id"], "pharmacist-1", "pharmacist",
                       {"decision": "reject", "reason": "renal dose adjustment needed"})
        result = await handle.result()
        assert (result.status, result.dispensed_units, result.reason) == ("rejected", 0, "renal dose adjustment needed")
        assert on_hand(db_engine, "2551") == before and movements(db_engine, order_id_of(handle)) == []
        with db_engine.connect() as c:
            row = c.execute(sa.text("SELECT status, verified_by FROM hms.medication_orders WHERE id = :o"),
                            {"o": order_id_of(handle)}).one()
            assert tuple(row) == ("rejected", "pharmacist-1")
            assert c.execute(sa.text("SELECT count(*) FROM hms.tasks WHERE workflow_id = :w AND type = "
                                     "'medication-administration'"), {"w": handle.id}).scalar() == 0
        [stage] = (await journey.query(PatientJourney.state)).stages
        assert stage.status == "completed" and stage.result["status"] == "rejected"
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()


async def test_interaction_needs_an_override_reason_to_approve(time_skipping_env: WorkflowEnvironment,
                                                               db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                               task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, _ = await admit(env, task_queue)
        first = await order(env, journey, WARFARIN)
        await open_task(db_engine, first.id, "medication-verification")
        second = await order(env, journey, ASPIRIN)
        task = await open_task(db_engine, second.id, "medication-verification")
        assert task["details"]["requires_override"] is True
        assert task["details"]["hits"] == [{"kind": "interaction", "code": "IX-WARF-ASA", "severity": "major",
                                            "other": "11289", "effect": "bleeding"}]
        message = await refused(complete(second, task["id"], "pharmacist-1", "pharmacist", {"decision": "approve"}))
        assert message.startswith("payload.override_reason")
        await open_task(db_engine, second.id, "medication-verification")  # still open, nothing dispensed
        assert movements(db_engine, order_id_of(second)) == []
        await complete(second, task["id"], "pharmacist-1", "pharmacist",
                       {"decision": "approve", "override_reason": "post-stent dual therapy; INR daily"})
        dose = await give(db_engine, second)
        assert dose["details"]["dose_number"] == 1
        assert movements(db_engine, order_id_of(second)) == [("dispense", -30)]
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await journey.result()
        assert {s.status for s in final.stages} == {"cancelled"}
        assert movements(db_engine, order_id_of(second)) == [("dispense", -30), ("return", 29)]
        with db_engine.connect() as c:
            statuses = c.execute(sa.text("SELECT status FROM hms.medication_orders WHERE journey_id = :j"),
                                 {"j": final.journey_id}).scalars().all()
        assert sorted(statuses) == ["cancelled", "cancelled"]


async def test_allergy_is_flagged_in_the_verification_task(time_skipping_env: WorkflowEnvironment,
                                                           db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                           task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, state = await admit(env, task_queue)
        with db_engine.begin() as c:
            c.execute(sa.text("INSERT INTO hms.allergy_intolerances (id, patient_id, code, is_class, criticality, "
                              "status, recorded_by) VALUES (:i, :p, 'penicillin', true, 'high', 'active', "
                              "'attending-1')"), {"i": str(uuid.uuid4()), "p": state.patient_id})
        handle = await order(env, journey, {"drug_code": "723", "dose": 500, "unit": "mg", "route": "PO",
                                            "frequency_hours": 8, "doses": 3})
        task = await open_task(db_engine, handle.id, "medication-verification")
        assert [(h["kind"], h["code"]) for h in task["details"]["hits"]] == [("allergy", "penicillin")]
        await complete(handle, task["id"], "pharmacist-1", "pharmacist",
                       {"decision": "reject", "reason": "penicillin allergy"})
        assert (await handle.result()).status == "rejected"
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()


async def test_insufficient_stock_opens_a_task_until_restocked(time_skipping_env: WorkflowEnvironment,
                                                               db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                               task_queue: str) -> None:
    env = time_skipping_env
    with db_engine.begin() as c:
        c.execute(sa.text("UPDATE hms.medication_stock SET on_hand = 1 WHERE drug_code = '3407'"))
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, _ = await admit(env, task_queue)
        handle = await order(env, journey, {"drug_code": "3407", "dose": 0.125, "unit": "mg", "route": "PO",
                                            "frequency_hours": 24, "doses": 3})
        verification = await open_task(db_engine, handle.id, "medication-verification")
        await complete(handle, verification["id"], "pharmacist-1", "pharmacist", {"decision": "approve"})
        shortage = await open_task(db_engine, handle.id, "medication-stock")
        assert shortage["role"] == "pharmacist"
        assert shortage["details"] == {"order_id": order_id_of(handle), "drug_code": "3407", "needed": 3, "on_hand": 1}
        message = await refused(complete(handle, shortage["id"], "pharmacist-1", "pharmacist", {"action": "retry"}))
        assert message.startswith("insufficient stock of 3407")
        assert on_hand(db_engine, "3407") == 1
        with db_engine.begin() as c:
            c.execute(sa.text("UPDATE hms.medication_stock SET on_hand = 10 WHERE drug_code = '3407'"))
        done = await complete(handle, shortage["id"], "pharmacist-1", "pharmacist", {"action": "retry"})
        assert done.result["dispensed_units"] == 3
        await give(db_engine, handle)
        assert on_hand(db_engine, "3407") == 7
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()
        assert movements(db_engine, order_id_of(handle)) == [("dispense", -3), ("return", 2)]
        assert on_hand(db_engine, "3407") == 9

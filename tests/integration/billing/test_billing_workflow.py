"""BillingWorkflow against real PostgreSQL and Temporal: totals equal the charges under retries, restarts, replay."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.invoice import Invoice
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.billing import BillingActivities
from activities.billing_fhir import money_value
from activities.billing_tariff import load_tariff
from activities.registry import build_activities
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.billing.helpers import admit, billing_input, charges_total, eventually, task_row
from tests.integration.conftest import journey_worker
from workflows.billing import BillingWorkflow
from workflows.billing_contracts import BedDaysInput, ChargeInput, ClaimInput, InvoiceInput
from workflows.contracts import AuditContext, DischargeRequest, JourneyState, TaskCompletion
from workflows.journey import PatientJourney
from workflows.payload_converter import data_converter
from workflows.registry import WORKFLOWS

pytestmark = pytest.mark.integration


def record_stage_charges(engine: sa.Engine, ledger: EmbeddedLedger, state: JourneyState) -> None:
    """What imaging and pharmacy do as they go: one study, one dispense of 3 units — each sent twice."""
    acts = BillingActivities(make_session_factory(engine), ledger)
    audit = AuditContext(journey_id=state.journey_id, requested_by="radiologist-1")
    env = ActivityEnvironment()
    for attempt in range(2):
        # Each delivery is its own activity execution (its own ledger event id), as from two workers.
        env.info = dataclasses.replace(env.info, workflow_id=f"imaging-{state.encounter_id}",
                                       activity_id=f"charge-{attempt}")
        first = env.run(acts.record_charge, ChargeInput(
            audit=audit, idempotency_key=f"imaging:{state.encounter_id}:study-1", encounter_id=state.encounter_id,
            patient_id=state.patient_id, code="IMG-XR", source="imaging", source_id="study-1"))
        env.info = dataclasses.replace(env.info, workflow_id=f"pharmacy-{state.encounter_id}")
        env.run(acts.record_charge, ChargeInput(
            audit=audit, idempotency_key=f"dispense:{state.encounter_id}:d-1", encounter_id=state.encounter_id,
            patient_id=state.patient_id, code="RX-DISPENSE", quantity=3, source="pharmacy", source_id="d-1"))
    assert first.amount == Decimal("450.00")


def expected_total() -> Decimal:
    t = load_tariff()
    return t.price("IMG-XR", 1) + t.price("RX-DISPENSE", 3) + t.price("BED-DAY-GENERAL", 1)


def flaky_worker(env: WorkflowEnvironment, engine: sa.Engine, ledger: EmbeddedLedger, queue: str) -> Worker:
    """A worker whose billing writes commit and then fail their first attempt (a worker lost after the commit)."""
    real = BillingActivities(make_session_factory(engine), ledger)

    def fail_first() -> None:
        if activity.info().attempt == 1:
            raise RuntimeError("connection lost after commit")

    @activity.defn(name="charge_bed_days")
    def charge_bed_days(inp: BedDaysInput):  # noqa: ANN202
        out = real.charge_bed_days(inp)
        fail_first()
        return out

    @activity.defn(name="issue_invoice")
    def issue_invoice(inp: InvoiceInput):  # noqa: ANN202
        out = real.issue_invoice(inp)
        fail_first()
        return out

    @activity.defn(name="submit_claim")
    def submit_claim(inp: ClaimInput):  # noqa: ANN202
        out = real.submit_claim(inp)
        fail_first()
        return out

    replaced = {"charge_bed_days", "issue_invoice", "submit_claim"}
    acts = [a for a in build_activities(make_session_factory(engine), ledger)
            if a.__temporal_activity_definition.name not in replaced]  # type: ignore[attr-defined]
    return Worker(env.client, task_queue=queue, workflows=WORKFLOWS,
                  activities=[*acts, charge_bed_days, issue_invoice, submit_claim],
                  activity_executor=ThreadPoolExecutor(4))


def stored(engine: sa.Engine, encounter_id: str) -> tuple:
    with engine.connect() as c:
        inv = c.execute(sa.text("SELECT id, total, status, resource FROM hms.invoices WHERE encounter_id = :e"),
                        {"e": encounter_id}).one()
        claim = c.execute(sa.text("SELECT id, total, outcome, paid_amount, resource FROM hms.claims "
                                  "WHERE encounter_id = :e"), {"e": encounter_id}).one()
        uninvoiced = c.execute(sa.text("SELECT count(*) FROM hms.charge_items WHERE encounter_id = :e "
                                       "AND invoice_id IS NULL"), {"e": encounter_id}).scalar()
    return inv, claim, uninvoiced


def assert_totals_exact(engine: sa.Engine, encounter_id: str) -> tuple:
    count, total = charges_total(engine, encounter_id)
    inv, claim, uninvoiced = stored(engine, encounter_id)
    assert count == 3 and uninvoiced == 0
    assert total == expected_total() == inv.total == claim.total
    invoice = Invoice.model_validate(inv.resource)
    assert money_value(inv.resource["totalNet"]) == total == money_value(inv.resource["totalGross"])
    assert sum(money_value(li["priceComponent"][0]["amount"]) for li in inv.resource["lineItem"]) == total
    assert len(invoice.lineItem) == 3
    Claim.model_validate(claim.resource)
    assert sum(money_value(i["net"]) for i in claim.resource["item"]) == money_value(claim.resource["total"]) == total
    return inv, claim


async def discharged(env: WorkflowEnvironment, queue: str, engine: sa.Engine, ledger: EmbeddedLedger
                     ) -> JourneyState:
    journey, state = await admit(env.client, queue)
    record_stage_charges(engine, ledger, state)
    await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
    await journey.result()
    return state


async def test_totals_equal_charges_after_retries_and_replay(temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                             ledger: EmbeddedLedger, task_queue: str) -> None:
    env = temporal_env
    async with flaky_worker(env, db_engine, ledger, task_queue):
        state = await discharged(env, task_queue, db_engine, ledger)
        enc = state.encounter_id
        handle = await env.client.start_workflow(BillingWorkflow.run, billing_input(state), id=f"billing-{enc}",
                                                 task_queue=task_queue)
        task_id = f"billing-settlement-{enc}"
        await eventually(lambda: asyncio.to_thread(task_row, db_engine, task_id))
        inv, claim = assert_totals_exact(db_engine, enc)
        assert task_row(db_engine, task_id).details == {"invoice_id": inv.id, "claim_id": claim.id,
                                                        "total": str(expected_total()), "currency": "INR"}

        for bad in ({"outcome": "paid", "paid_amount": "10.001"}, {"outcome": "paid", "paid_amount": "999999"},
                    {"outcome": "paid"}, {"outcome": "denied"}, {"outcome": "refunded"},
                    {"outcome": "paid", "paid_amount": "5", "memo": "x"}):
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await handle.execute_update(BillingWorkflow.complete_task,
                                            TaskCompletion(task_id, "billing-1", "billing_clerk", bad))
            assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "InvalidTaskPayload"

        pay = TaskCompletion(task_id, "billing-1", "billing_clerk",
                             {"outcome": "paid", "paid_amount": str(expected_total()), "reference": "RCPT-1"})
        both = await asyncio.gather(handle.execute_update(BillingWorkflow.complete_task, pay),
                                    handle.execute_update(BillingWorkflow.complete_task, pay),
                                    return_exceptions=True)
        ok = [r for r in both if not isinstance(r, BaseException)]
        refused = [r for r in both if isinstance(r, WorkflowUpdateFailedError)]
        assert len(ok) == 1 and len(refused) == 1 and refused[0].cause.type == "TaskNotOpen"
        assert ok[0].result["paid_amount"] == str(expected_total())
        result = await handle.result()
        assert result.outcome == "paid" and result.total == expected_total()
        inv, claim = assert_totals_exact(db_engine, enc)
        assert inv.status == "balanced" and claim.outcome == "paid" and claim.paid_amount == expected_total()

        history = await handle.fetch_history()
    replay = await Replayer(workflows=WORKFLOWS, data_converter=data_converter).replay_workflow(history)
    assert replay.replay_failure is None
    assert_totals_exact(db_engine, enc)
    events = [e.event for e in ledger.query(patient_id=state.patient_id)]
    assert sum(1 for e in events if e.subtype == "invoice.issue") == 1
    assert sum(1 for e in events if e.subtype == "claim.paid") == 1


async def test_totals_survive_worker_restart_and_denial(temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                        ledger: EmbeddedLedger, task_queue: str) -> None:
    env = temporal_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        state = await discharged(env, task_queue, db_engine, ledger)
        enc = state.encounter_id
        handle = await env.client.start_workflow(BillingWorkflow.run, billing_input(state), id=f"billing-{enc}",
                                                 task_queue=task_queue)
        task_id = f"billing-settlement-{enc}"
        await eventually(lambda: asyncio.to_thread(task_row, db_engine, task_id))
    # The first worker is gone; a new one picks the workflow up from its history.
    async with journey_worker(env, db_engine, ledger, task_queue):
        res = await handle.execute_update(BillingWorkflow.complete_task, TaskCompletion(
            task_id, "billing-1", "billing_clerk", {"outcome": "denied", "denial_reason": "CO-50"}))
        assert res.result["outcome"] == "denied"
        result = await handle.result()
    assert result.outcome == "denied" and result.paid_amount is None
    inv, claim = assert_totals_exact(db_engine, enc)
    assert inv.status == "issued" and claim.outcome == "denied"
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT denial_reason FROM hms.claims WHERE id = :c"),
                         {"c": claim.id}).scalar() == "CO-50"
    assert json.dumps(inv.resource).count("ChargeItem/") == 3

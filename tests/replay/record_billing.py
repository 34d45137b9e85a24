"""Record the committed DischargeWorkflow and BillingWorkflow histories that CI replays.

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_billing

Runs, on the time-skipping server against a scratch database: a discharge that is
blocked by an unreported flagged study until the journey reports it, then the
checklist tasks, the summary, bed cleaning and the end of the stay; then billing
of that stay with a charge from imaging, the invoice, the claim and a payment.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.storage.db import make_session_factory
from tests.integration.billing.helpers import (
    admit,
    billing_input,
    discharge_input,
    imaging_stage,
    progress_at,
)
from tests.integration.conftest import journey_worker
from tests.replay.harness import OUT, recording
from workflows.billing import BillingWorkflow
from workflows.billing_contracts import ChargeInput
from workflows.contracts import AuditContext, DischargeRequest, TaskCompletion
from workflows.discharge import DischargeWorkflow
from workflows.discharge_contracts import StagesUpdate
from workflows.journey import PatientJourney
from workflows.stages import StageStatus


async def main() -> None:
    async with recording() as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        queue = "record-billing"
        async with journey_worker(env, engine, ledger, queue):
            journey, state = await admit(env.client, queue)
            enc = state.encounter_id
            ActivityEnvironment().run(BillingActivities(make_session_factory(engine), ledger).record_charge, ChargeInput(
                audit=AuditContext(journey_id=state.journey_id, requested_by="radiologist-1"),
                idempotency_key=f"imaging:{enc}:study-1", encounter_id=enc, patient_id=state.patient_id,
                code="IMG-CT", source="imaging", source_id="study-1"))
            rx = StageStatus(kind="pharmacy", stage_id="rx-1", workflow_id="pharmacy-rx-1")
            study = imaging_stage("study-1", flagged=True, report_status="preliminary")
            handle = await env.client.start_workflow(DischargeWorkflow.run, discharge_input(state, [rx, study]),
                                                     id=f"discharge-{enc}", task_queue=queue)
            await progress_at(handle, "pending-results")
            await handle.signal(DischargeWorkflow.stages_changed, StagesUpdate(stages=[
                rx, imaging_stage("study-1", flagged=True, report_status="final")]))
            await progress_at(handle, "checklist")
            attending = ("attending-1", "attending_physician")
            await handle.execute_update(DischargeWorkflow.complete_task, TaskCompletion(
                f"medication-reconciliation-{enc}", *attending, {"decisions": {"rx-1": "continue"}}))
            follow = (await env.get_current_time() + timedelta(days=10)).date().isoformat()
            await handle.execute_update(DischargeWorkflow.complete_task, TaskCompletion(
                f"follow-up-{enc}", *attending, {"date": follow, "clinic": "respiratory"}))
            await progress_at(handle, "bed-cleaning")
            await handle.execute_update(DischargeWorkflow.complete_task, TaskCompletion(
                f"bed-cleaning-{enc}", "nurse-medical-1", "nurse", {"cleaned": True}))
            with env.auto_time_skipping_disabled():
                await handle.result()
            OUT.joinpath("discharge_checklist.json").write_text((await handle.fetch_history()).to_json())
            await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
            with env.auto_time_skipping_disabled():
                await journey.result()

            billing = await env.client.start_workflow(BillingWorkflow.run, billing_input(state), id=f"billing-{enc}",
                                                      task_queue=queue)
            task_id = f"billing-settlement-{enc}"
            while task_id not in await billing.query(BillingWorkflow.open_tasks):
                await asyncio.sleep(0.1)
            with engine.connect() as c:
                total = c.execute(sa.text("SELECT total FROM hms.invoices WHERE encounter_id = :e"), {"e": enc}).scalar()
            await billing.execute_update(BillingWorkflow.complete_task, TaskCompletion(
                task_id, "billing-1", "billing_clerk", {"outcome": "paid", "paid_amount": str(total)}))
            with env.auto_time_skipping_disabled():
                await billing.result()
            OUT.joinpath("billing_paid.json").write_text((await billing.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())

"""The invoice at discharge carries what the stages billed as they went: bed-days + the study + the dispense."""
from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.billing_fhir import money_value
from activities.billing_tariff import bed_days, load_tariff
from ledger.embedded import EmbeddedLedger
from tests.integration.billing.helpers import admit, billing_input, eventually, task_row
from tests.integration.billing.stage_charges import charges
from tests.integration.conftest import journey_worker
from tests.integration.imaging.helpers import (
    REPORT,
    attach_dicom,
    order_payload,
    rg1_bytes,
    start_order,
    wait_imaging,
)
from tests.integration.pharmacy.conftest import give, order, verify
from workflows.billing import BillingWorkflow
from workflows.contracts import DischargeRequest, TaskCompletion
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import report_task_id
from workflows.journey import PatientJourney

pytestmark = pytest.mark.integration
IBUPROFEN = {"drug_code": "5640", "dose": 400, "unit": "mg", "route": "PO", "frequency_hours": 8, "doses": 4}


async def test_invoice_totals_bed_days_study_and_dispense_exactly(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    env = temporal_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        journey, state = await admit(env.client, task_queue)
        enc = state.encounter_id
        study = await start_order(env.client, journey, order_payload(priority="routine"))
        await attach_dicom(db_engine, study, rg1_bytes())
        read = await wait_imaging(study, lambda s: s.status == "awaiting-report")
        await study.execute_update(ImagingWorkflow.complete_task, TaskCompletion(
            task_id=report_task_id(read.order_id), actor="radiologist-1", role="radiologist", payload=REPORT))
        await study.result()
        course = await order(env, journey, IBUPROFEN)  # 8 tablets dispensed; the discharge returns 6
        await verify(db_engine, course)
        await give(db_engine, course)
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()

        handle = await env.client.start_workflow(BillingWorkflow.run, billing_input(state), id=f"billing-{enc}",
                                                 task_queue=task_queue)
        task_id = f"billing-settlement-{enc}"
        await eventually(lambda: asyncio.to_thread(task_row, db_engine, task_id))
        with db_engine.connect() as c:
            admitted, ended = c.execute(sa.text("SELECT admitted_at, ended_at FROM hms.encounters WHERE id = :e"),
                                        {"e": enc}).one()
            invoice = c.execute(sa.text("SELECT id, total, resource FROM hms.invoices WHERE encounter_id = :e"),
                                {"e": enc}).one()
        tariff = load_tariff()
        expected = (tariff.price("BED-DAY-GENERAL", bed_days((ended - admitted).total_seconds()))
                    + tariff.price("IMG-XR", 1) + tariff.price("RX-DISPENSE", 8))
        rows = charges(db_engine, enc)
        assert sorted(r.idempotency_key for r in rows) == sorted(
            [f"bed-days:{enc}", f"imaging:study-{read.order_id}", f"dispense:{course.id.removeprefix('pharmacy-')}"])
        assert {r.invoice_id for r in rows} == {invoice.id}
        assert invoice.total == sum(r.amount for r in rows) == expected
        assert len(invoice.resource["lineItem"]) == 3 and money_value(invoice.resource["totalNet"]) == expected

        paid = await handle.execute_update(BillingWorkflow.complete_task, TaskCompletion(
            task_id, "billing-1", "billing_clerk", {"outcome": "paid", "paid_amount": str(expected)}))
        assert paid.result["total"] == str(expected)
        result = await handle.result()
        assert (result.outcome, result.total, result.paid_amount) == ("paid", expected, expected)

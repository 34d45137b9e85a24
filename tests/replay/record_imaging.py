"""Record the committed ImagingWorkflow history that CI replays (run by hand when it changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_imaging

An urgent chest radiograph (the real pydicom-data plate) is ordered in an admitted journey,
charged when the study arrives, pre-screened, left unread past its 30-minute SLA (escalated to
radiologist-2), then reported. A second routine order receives its study (charged) and is then
revoked by the discharge (the compensation finds the charge made).

``imaging_breach_escalation_report.json`` was recorded before the ``imaging-study-charge`` patch
and stays committed, so the unpatched path keeps replaying; this script writes the patched ones.
"""
from __future__ import annotations

import asyncio

from tests.integration.conftest import journey_worker
from tests.integration.imaging.helpers import (
    REPORT,
    attach_dicom,
    order_payload,
    rg1_bytes,
    start_order,
    wait_imaging,
)
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from tests.replay.harness import OUT, recording
from workflows.contracts import DischargeRequest, TaskCompletion
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import report_task_id
from workflows.journey import PatientJourney

REPORTED = OUT / "imaging_charged_breach_escalation_report.json"
CANCELLED = OUT / "imaging_charged_cancelled_at_discharge.json"


async def main() -> None:
    async with recording() as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        async with journey_worker(env, engine, ledger, "record-imaging"):
            inp = journey_input()
            journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id,
                                                      task_queue="record-imaging")
            await wait_stage(journey, "admitted")
            order = await start_order(env.client, journey, order_payload(priority="urgent"))
            await wait_imaging(order, lambda s: s.assigned_to is not None)
            await attach_dicom(engine, order, rg1_bytes())
            state = await wait_imaging(order, lambda s: s.status == "awaiting-report")
            await env.sleep(31 * 60)
            await wait_imaging(order, lambda s: s.sla_breaches == 1)
            await order.execute_update(ImagingWorkflow.complete_task, TaskCompletion(
                task_id=report_task_id(state.order_id), actor="radiologist-2", role="radiologist", payload=REPORT))
            await order.result()
            REPORTED.write_text((await order.fetch_history()).to_json())
            unread = await start_order(env.client, journey, order_payload(priority="routine"))
            await attach_dicom(engine, unread, rg1_bytes())
            await wait_imaging(unread, lambda s: s.status == "awaiting-report")
            await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
            await journey.result()
            CANCELLED.write_text((await unread.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())

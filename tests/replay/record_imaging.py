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
import os
import shutil
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.storage.migrate import upgrade
from deploy.seed import seed_demo
from deploy.settings import Settings
from deploy.temporal_setup import ensure_search_attributes
from ledger.embedded import EmbeddedLedger
from ledger.keys import load_or_create_signing_key
from tests.conftest import create_database
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
from workflows.contracts import DischargeRequest, TaskCompletion
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import report_task_id
from workflows.journey import PatientJourney

OUT = Path(__file__).with_name("histories")
REPORTED = OUT / "imaging_charged_breach_escalation_report.json"
CANCELLED = OUT / "imaging_charged_cancelled_at_discharge.json"


async def main() -> None:
    url = create_database(os.environ.get("HMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
                          .replace("postgresql://", "postgresql+psycopg://"))
    upgrade(url)
    home = Path(f"/tmp/hms-record-{uuid.uuid4().hex[:6]}")
    seed_demo(Settings(home=home), url)
    engine = sa.create_engine(url)
    key, key_id = load_or_create_signing_key(home / "ledger.pem")
    ledger = EmbeddedLedger(engine, key, key_id)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server", path=str(Path(sys.executable).parent)),
        data_converter=pydantic_data_converter)
    await ensure_search_attributes(env.client)
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
    await env.shutdown()
    engine.dispose()
    print(f"histories written to {REPORTED} and {CANCELLED}")


if __name__ == "__main__":
    asyncio.run(main())

"""ImagingWorkflow on the time-skipping server: SLA breach escalates, the report closes the stage."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.crypto.fields import ephemeral_cipher
from activities.storage import imaging_reports
from activities.storage import tasks as task_store
from activities.storage.models_imaging import DiagnosticReport
from ledger.embedded import EmbeddedLedger
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

pytestmark = pytest.mark.integration


def _task(engine: sa.Engine, task_id: str) -> task_store.TaskView:
    """The task with its details as the inbox serves them (the clinical keys are sealed at rest)."""
    with Session(engine) as s:
        task = task_store.read_task(s, ephemeral_cipher(), task_id)
        assert task is not None
        return task


async def test_sla_breach_escalates_to_another_radiologist_and_report_closes_stage(
        time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger,
        task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        inp = journey_input()
        journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=task_queue)
        await wait_stage(journey, "admitted")
        order = await start_order(env.client, journey, order_payload(priority="urgent"))
        await wait_imaging(order, lambda s: s.assigned_to is not None)
        await attach_dicom(db_engine, order, rg1_bytes())
        state = await wait_imaging(order, lambda s: s.status == "awaiting-report")
        assert state.prescreen is not None and state.prescreen.status == "scored"
        assert state.prescreen.model_version.startswith("imaging-prescreen-")
        task_id = report_task_id(state.order_id)
        task = _task(db_engine, task_id)
        assert task.status == "open" and task.role == "radiologist"
        assert task.details["assigned_to"] == "radiologist-1" and task.details["sla_minutes"] == 30
        assert (task.due - task.created_at).total_seconds() == 30 * 60

        await env.sleep(31 * 60)  # past the urgent SLA
        state = await wait_imaging(order, lambda s: s.sla_breaches >= 1)
        assert state.assigned_to == "radiologist-2" and state.escalated_to == ["radiologist-2"]
        task = _task(db_engine, task_id)
        assert task.status == "open" and task.details["assigned_to"] == "radiologist-2"
        assert task.details["sla_breaches"] == 1 and "escalated_at" in task.details
        with db_engine.connect() as c:
            row = c.execute(sa.text("SELECT assigned_to, sla_breaches, status FROM hms.imaging_orders "
                                    "WHERE id = :o"), {"o": state.order_id}).one()
        assert tuple(row) == ("radiologist-2", 1, "active")

        with pytest.raises(WorkflowUpdateFailedError) as err:  # the first reader lost the read
            await order.execute_update(ImagingWorkflow.complete_task, TaskCompletion(
                task_id=task_id, actor="radiologist-1", role="radiologist", payload=REPORT))
        assert err.value.cause.type == "NotAssignee"
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await order.execute_update(ImagingWorkflow.complete_task, TaskCompletion(
                task_id=task_id, actor="radiologist-2", role="radiologist", payload={**REPORT, "abnormal": "y"}))
        assert err.value.cause.type == "InvalidTaskPayload"

        done = await order.execute_update(ImagingWorkflow.complete_task, TaskCompletion(
            task_id=task_id, actor="radiologist-2", role="radiologist", payload=REPORT))
        assert done.status == "completed" and done.result["abnormal"] is True
        result = await order.result()
        assert result.status == "reported" and result.reported_by == "radiologist-2" and result.sla_breaches == 1
        assert _task(db_engine, task_id).status == "completed"
        with db_engine.connect() as c:
            assert c.execute(sa.text("SELECT status FROM hms.imaging_orders WHERE id = :o"),
                             {"o": state.order_id}).scalar() == "completed"
        with Session(db_engine) as s:  # the text is sealed at rest; the store opens it with the patient's key
            report = s.scalar(sa.select(DiagnosticReport).where(DiagnosticReport.order_id == state.order_id))
            impression = imaging_reports.report_text(s, ephemeral_cipher(), report).impression
            assert (report.findings_code, report.abnormal, report.issued_by, impression) == (
                "RID5352", True, "radiologist-2", REPORT["impression"])

        journey_state = await journey.query(PatientJourney.state)
        stage = next(s for s in journey_state.stages if s.kind == "imaging")
        for _ in range(50):
            if stage.status == "completed":
                break
            await env.sleep(1)
            stage = next(s for s in (await journey.query(PatientJourney.state)).stages if s.kind == "imaging")
        assert stage.status == "completed"
        assert stage.result["findings_code"] == "RID5352" and stage.result["sla_breaches"] == 1
        assert REPORT["impression"] not in str(stage.result)
        subtypes = {e.event.subtype for e in ledger.query(patient_id=inp.patient_id)}
        assert {"imaging.order.create", "imaging.study.register", "imaging.prescreen", "imaging.sla.breach",
                "imaging.report.create"} <= subtypes
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()


async def test_discharge_cancels_an_unreported_order(time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                     ledger: EmbeddedLedger, task_queue: str) -> None:
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        inp = journey_input()
        journey = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=task_queue)
        await wait_stage(journey, "admitted")
        order = await start_order(env.client, journey, order_payload(priority="routine"))
        await attach_dicom(db_engine, order, rg1_bytes())
        state = await wait_imaging(order, lambda s: s.status == "awaiting-report")
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await journey.result()
        stage = next(s for s in final.stages if s.kind == "imaging")
        assert stage.status == "cancelled"
        assert _task(db_engine, report_task_id(state.order_id)).status == "cancelled"
        with db_engine.connect() as c:
            assert c.execute(sa.text("SELECT status FROM hms.imaging_orders WHERE id = :o"),
                             {"o": state.order_id}).scalar() == "revoked"

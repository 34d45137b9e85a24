"""PatientJourney and AdmissionWorkflow against the real dev server and real PostgreSQL."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from workflows.contracts import (
    DischargeRequest,
    JourneyInput,
    PatientDemographics,
    TaskCompletion,
    TaskCompletionResult,
)
from workflows.journey import PatientJourney, journey_id_for

pytestmark = pytest.mark.integration


def journey_input(ward: str = "medical", *, identifier: str | None = None, deadline: int = 1800,
                  retry: int = 60) -> JourneyInput:
    encounter_id = str(uuid.uuid4())
    ident = identifier or f"MRN-{uuid.uuid4().hex[:10]}"
    return JourneyInput(
        journey_id=journey_id_for(encounter_id), encounter_id=encounter_id, patient_id=str(uuid.uuid4()),
        patient=PatientDemographics(identifier_system="urn:hms:mrn", identifier_value=ident, given="Asha",
                                    family="Verma", birth_date=date(1980, 5, 17), gender="female"),
        ward=ward, reason="community-acquired pneumonia", requested_by="registration-1",
        bed_wait_deadline_seconds=deadline, bed_retry_seconds=retry)


async def wait_stage(handle, stage: str, timeout: float = 30.0):  # noqa: ANN001
    for _ in range(int(timeout * 10)):
        state = await handle.query(PatientJourney.state)
        if state.stage == stage or state.status == "failed":
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"journey did not reach {stage!r}: {state}")


async def test_admission_registers_assigns_bed_and_audits(temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                          ledger: EmbeddedLedger, task_queue: str) -> None:
    inp = journey_input()
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        handle = await temporal_env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id,
                                                          task_queue=task_queue)
        state = await wait_stage(handle, "admitted")
        assert state.status == "in-progress" and state.bed_id and state.bed_id.startswith("medical-")
        assert state.attending == "attending-1"
        with db_engine.connect() as c:
            enc = c.execute(sa.text("SELECT status, care_team_id, attending_id, admitted_at FROM hms.encounters "
                                    "WHERE id = :e"), {"e": inp.encounter_id}).one()
            assert enc.status == "in-progress" and enc.care_team_id == "team-a" and enc.admitted_at is not None
            assert c.execute(sa.text("SELECT encounter_id FROM hms.beds WHERE id = :b"),
                             {"b": state.bed_id}).scalar() == inp.encounter_id
            assert c.execute(sa.text("SELECT status FROM hms.consents WHERE patient_id = :p"),
                             {"p": inp.patient_id}).scalar() == "active"
        subtypes = sorted(e.event.subtype for e in ledger.query(patient_id=inp.patient_id))
        assert subtypes == ["consent.record", "encounter.bed", "encounter.care-team", "encounter.create",
                            "encounter.in-progress", "patient.register"]

        await handle.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        final = await handle.result()
        assert final.status == "completed" and final.stage == "discharged"
        with db_engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM hms.beds WHERE encounter_id = :e"),
                             {"e": inp.encounter_id}).scalar() == 0
    assert ledger.verify().ok


async def test_same_identifier_never_duplicates_patient(temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                        ledger: EmbeddedLedger, task_queue: str) -> None:
    ident = f"MRN-{uuid.uuid4().hex[:10]}"
    first, second = journey_input(identifier=ident), journey_input(identifier=ident)
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        h1 = await temporal_env.client.start_workflow(PatientJourney.run, first, id=first.journey_id,
                                                      task_queue=task_queue)
        s1 = await wait_stage(h1, "admitted")
        await h1.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await h1.result()
        # A readmission presents the same identifier with another candidate id: the existing patient wins.
        h2 = await temporal_env.client.start_workflow(PatientJourney.run, second, id=second.journey_id,
                                                      task_queue=task_queue)
        s2 = await wait_stage(h2, "admitted")
        assert s2.patient_id == s1.patient_id == first.patient_id
        # A concurrent second stay for the same patient is refused, not duplicated.
        third = journey_input(identifier=ident)
        h3 = await temporal_env.client.start_workflow(PatientJourney.run, third, id=third.journey_id,
                                                      task_queue=task_queue)
        failed = await h3.result()
        assert failed.status == "failed" and "active encounter" in (failed.failure or "")
        await h2.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await h2.result()
    with db_engine.connect() as c:
        # Identifier values are encrypted: count the patient's identifier rows (one, found by its blind index).
        assert c.execute(sa.text("SELECT count(*) FROM hms.patient_identifiers WHERE patient_id = :p"),
                         {"p": first.patient_id}).scalar() == 1


async def test_full_ward_waits_then_opens_bed_task(time_skipping_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                   ledger: EmbeddedLedger, task_queue: str) -> None:
    """No free bed: the journey waits durably; past the deadline a nurse gets a bed-management task."""
    ward = f"full-{uuid.uuid4().hex[:6]}"
    with db_engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.wards (id, name) VALUES (:w, 'Full ward')"), {"w": ward})
        c.execute(sa.text("UPDATE hms.care_teams SET wards = array_append(wards, :w) WHERE id = 'team-a'"),
                  {"w": ward})
    inp = journey_input(ward=ward, deadline=1800, retry=300)
    env = time_skipping_env
    async with journey_worker(env, db_engine, ledger, task_queue):
        handle = await env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=task_queue)
        await env.sleep(600)
        task_id = f"bed-management-{inp.encounter_id}"
        with db_engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM hms.tasks WHERE id = :t"), {"t": task_id}).scalar() == 0
        await env.sleep(1800)
        with db_engine.connect() as c:
            task = c.execute(sa.text("SELECT role, ward_id, status, workflow_id FROM hms.tasks WHERE id = :t"),
                             {"t": task_id}).one()
        assert (task.role, task.ward_id, task.status) == ("nurse", ward, "open")
        admission = env.client.get_workflow_handle(task.workflow_id)

        bad = TaskCompletion(task_id=task_id, actor="nurse-medical-1", role="nurse", payload={"bed": "x"})
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await admission.execute_update("complete_task", bad)
        assert "bed_id" in str(err.value.cause)
        not_free = TaskCompletion(task_id=task_id, actor="nurse-medical-1", role="nurse",
                                  payload={"bed_id": f"{ward}-01"})
        with pytest.raises(WorkflowUpdateFailedError):
            await admission.execute_update("complete_task", not_free)

        with db_engine.begin() as c:
            c.execute(sa.text("INSERT INTO hms.beds (id, ward_id, label) VALUES (:b, :w, '01')"),
                      {"b": f"{ward}-01", "w": ward})
        done = await admission.execute_update("complete_task", not_free, result_type=TaskCompletionResult)
        assert done.result["bed_id"] == f"{ward}-01"
        # Completing again is refused: by the validator while the admission still runs, by the
        # server once it has finished (the task API answers 409 from the task row either way).
        with pytest.raises((WorkflowUpdateFailedError, RPCError)) as again:
            await admission.execute_update("complete_task", not_free)
        if isinstance(again.value, WorkflowUpdateFailedError):
            assert "already completed" in str(again.value.cause)
        state = await wait_stage(handle, "admitted")
        assert state.bed_id == f"{ward}-01"
        await handle.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await handle.result()
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT status, completed_by FROM hms.tasks WHERE id = :t"),
                         {"t": task_id}).one() == ("completed", "nurse-medical-1")

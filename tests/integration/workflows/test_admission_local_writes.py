"""The admission's storage writes run as local activities: one workflow task, each result a marker."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows.journey import PatientJourney

pytestmark = pytest.mark.integration


async def test_admission_writes_are_local_activities(temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                     ledger: EmbeddedLedger, task_queue: str) -> None:
    inp = journey_input()
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        handle = await temporal_env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id,
                                                          task_queue=task_queue)
        state = await wait_stage(handle, "admitted")
        assert state.status == "in-progress"
        history = await temporal_env.client.get_workflow_handle(f"admission-{inp.encounter_id}").fetch_history()
    kinds = [e.event_type for e in history.events]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds
    # The patch marker, then register, consent, encounter, care team, bed and in-progress.
    assert kinds.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 7
    # With a free bed the whole admission is decided in one workflow task.
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT status FROM hms.encounters WHERE id = :e"),
                         {"e": inp.encounter_id}).scalar() == "in-progress"
    assert sorted(e.event.subtype for e in ledger.query(patient_id=state.patient_id)) == [
        "consent.record", "encounter.bed", "encounter.care-team", "encounter.create", "encounter.in-progress",
        "patient.register"]

"""Journeys: where a patient's stay stands (a workflow query) and its open tasks."""
from __future__ import annotations

import dataclasses

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage import tasks as task_store
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.routes.stages import journey_state
from api.schemas import DischargeIn, JourneyOut, ResultOut, StageOut, TaskOut
from api.services import ApiServices
from workflows.contracts import DischargeRequest
from workflows.journey import PatientJourney
from workflows.stages import StageStatus

router = APIRouter(prefix="/api/v1/journeys", tags=["journeys"])


@router.get("/{journey_id}", response_model=JourneyOut)
async def get_journey(journey_id: str, user: CurrentUser, services: Services) -> JourneyOut:
    """Stage, status and tasks of a journey; visible to the patient's care team."""
    state = await journey_state(services, journey_id)
    resource = await run_in_threadpool(patient_resource, services, "Journey", state.patient_id, journey_id,
                                       default_ward=state.ward)
    await authorize(services, user, action="read", resource=resource, subtype="journey.read")
    tasks = await run_in_threadpool(_tasks, services, journey_id)
    return JourneyOut(journey_id=state.journey_id, patient_id=state.patient_id, encounter_id=state.encounter_id,
                      stage=state.stage, status=state.status, ward=state.ward, bed_id=state.bed_id,
                      attending=state.attending, failure=state.failure, tasks=tasks,
                      stages=[_stage(s) for s in state.stages],
                      discharge=_stage(state.discharge) if state.discharge else None,
                      billing_workflow_id=state.billing_workflow_id,
                      results=[ResultOut(**dataclasses.asdict(r)) for r in state.results])


def _stage(s: StageStatus) -> StageOut:
    return StageOut(kind=s.kind, stage_id=s.stage_id, workflow_id=s.workflow_id, status=s.status,
                    started_at=s.started_at, ended_at=s.ended_at, failure=s.failure, result=dict(s.result))


@router.post("/{journey_id}/discharge", status_code=202)
async def discharge(journey_id: str, body: DischargeIn, user: CurrentUser, services: Services) -> dict[str, str]:
    """Ask the journey to end the stay: the encounter is finished and the bed freed."""
    state = await journey_state(services, journey_id)
    resource = await run_in_threadpool(patient_resource, services, "Encounter", state.patient_id,
                                       state.encounter_id, default_ward=state.ward)
    await authorize(services, user, action="update", resource=resource, subtype="encounter.discharge")
    if state.stage != "admitted":
        raise HTTPException(409, f"journey {journey_id} is at stage {state.stage!r}, not admitted")
    handle = services.client().get_workflow_handle_for(PatientJourney.run, journey_id)
    await handle.signal(PatientJourney.discharge, DischargeRequest(requested_by=user.user_id, reason=body.reason))
    return {"journey_id": journey_id, "status": "discharge-requested"}


def _tasks(services: ApiServices, journey_id: str) -> list[TaskOut]:
    with services.sessions() as s:
        rows = task_store.opened(s, services.field_cipher,
                                 task_store.list_open_tasks(s, journey_id=journey_id, status=None))
        return [TaskOut(id=t.id, type=t.type, role=t.role, patient_id=t.patient_id, journey_id=t.journey_id,
                        ward=t.ward_id, status=t.status, due=t.due, created_at=t.created_at, details=t.details)
                for t in rows]



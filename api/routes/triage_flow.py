"""Triage over the API: ED arrivals, the triage stage of a stay, physician seen, linking an admission.

``POST /api/v1/triage`` triages an ED arrival before admission (a standalone ``TriageWorkflow``,
id ``triage-<triage id>``). When that patient is admitted later, ``POST /api/v1/triage/{id}/admission``
with the new ``journey_id`` links the triage (its assessments, vitals and open tasks) to the stay.
"""
from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.storage import repository as repo
from activities.storage import triage_store
from activities.storage.identity import patient_id_for
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.routes.stages import journey_state, start_stage
from api.schemas import PatientIn
from api.services import ApiServices
from api.updates import run_update
from workflows import search_attributes as sa
from workflows.contracts import PatientDemographics
from workflows.stages import StageRequest
from workflows.triage import TriageWorkflow
from workflows.triage_contracts import LinkAdmission, PhysicianSeen, TriageState, TriageWorkflowInput

router = APIRouter(prefix="/api/v1", tags=["triage"])
ED = "emergency"
ID = r"^[A-Za-z0-9-]{8,64}$"
TRIAGE_ERRORS = {"WrongRole": 403, "AlreadySeen": 409, "InvalidLink": 422, "AlreadyLinked": 409, "NotStarted": 409}


class ArrivalIn(BaseModel):
    """An ED arrival: demographics as in an admission, or an existing patient id."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    patient: PatientIn | None = None
    patient_id: Annotated[str | None, Field(max_length=36)] = None
    priority: Literal["routine", "urgent"] = "routine"
    triage_id: Annotated[str | None, Field(pattern=ID)] = None

    @model_validator(mode="after")
    def _one_patient(self) -> ArrivalIn:
        if (self.patient is None) == (self.patient_id is None):
            raise ValueError("give either patient (demographics) or patient_id")
        return self


class JourneyTriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage_id: Annotated[str | None, Field(pattern=ID)] = None
    age: Annotated[int | None, Field(ge=0, le=120)] = None
    priority: Literal["routine", "urgent"] = "routine"


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    journey_id: Annotated[str, Field(pattern=r"^journey-[A-Za-z0-9-]{1,72}$")]


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _ed_context(services: ApiServices, patient_id: str | None) -> dict[str, Any]:
    with services.sessions() as s:
        team = triage_store.ward_care_team(s, ED)
        patient = repo.read_patient(s, services.field_cipher, patient_id) if patient_id else None
        return {"team": team, "birth_date": patient.birth_date if patient else None, "exists": patient is not None}


def triage_resource(services: ApiServices, rtype: str, patient_id: str, resource_id: str) -> dict[str, Any]:
    """The patient's resource as the policy sees it, on the ED ward and its care team (triage is ED work)."""
    resource = patient_resource(services, rtype, patient_id, resource_id, default_ward=ED)
    team = _ed_context(services, None)["team"]
    resource["ward"] = ED
    if team:
        resource["care_teams"] = sorted(set(resource["care_teams"]) | {team[0]})
        resource["attending"] = resource["attending"] or team[1]
    return resource


@router.post("/triage", status_code=202)
async def register_arrival(body: ArrivalIn, user: CurrentUser, services: Services) -> dict[str, Any]:
    """Register an ED arrival and start its triage (task for the triage nurses of the ED)."""
    demographics = None
    if body.patient is not None:
        p, ident = body.patient, body.patient.identifier
        assert not isinstance(ident, str)
        existing = await run_in_threadpool(_find, services, ident.system, ident.value)
        patient_id = existing or patient_id_for(services.index_key, ident.system, ident.value)
        demographics = PatientDemographics(identifier_system=ident.system, identifier_value=ident.value,
                                           given=p.given, family=p.family, birth_date=p.birth_date, gender=p.gender)
    else:
        patient_id = str(body.patient_id)
    if user.role == "registration_clerk":
        resource: dict[str, Any] = {"type": "Patient", "id": patient_id, "patient_id": patient_id, "ward": ED}
    else:
        resource = await run_in_threadpool(triage_resource, services, "TriageScore", patient_id, patient_id)
    await authorize(services, user, action="create", resource=resource, subtype="triage.arrival")
    ctx = await run_in_threadpool(_ed_context, services, patient_id)
    if demographics is None and not ctx["exists"]:
        raise HTTPException(404, f"patient_id: patient {patient_id} not found")
    birth = demographics.birth_date if demographics else ctx["birth_date"]
    triage_id = body.triage_id or str(uuid.uuid4())
    team = ctx["team"] or (None, None)
    inp = TriageWorkflowInput(triage_id=triage_id, patient_id=patient_id, requested_by=user.user_id,
                              patient=demographics, age=age_on(birth, date.today()) if birth else None,
                              care_team_id=team[0], attending=team[1], priority=body.priority)
    workflow_id = f"triage-{triage_id}"
    await services.client().start_workflow(
        TriageWorkflow.run, inp, id=workflow_id, task_queue=services.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=sa.journey_attributes(patient_id=patient_id, ward=ED, stage="triage"))
    return {"triage_id": triage_id, "workflow_id": workflow_id, "patient_id": patient_id,
            "task_id": f"triage-{triage_id}", "status": "awaiting-triage"}


@router.post("/journeys/{journey_id}/triage", status_code=202)
async def triage_stay(journey_id: str, body: JourneyTriageIn, user: CurrentUser, services: Services
                      ) -> dict[str, Any]:
    """(Re-)triage an admitted patient as a stage of their journey."""
    journey = await journey_state(services, journey_id)
    stage_id = body.stage_id or str(uuid.uuid4())
    resource = await run_in_threadpool(patient_resource, services, "TriageScore", journey.patient_id, stage_id,
                                       default_ward=journey.ward)
    await authorize(services, user, action="create", resource=resource, subtype="triage.stage.start")
    status = await start_stage(services, journey_id, StageRequest(
        kind="triage", stage_id=stage_id, requested_by=user.user_id,
        payload=body.model_dump(exclude={"stage_id"}, exclude_none=True)))
    return {"triage_id": stage_id, "journey_id": journey_id, "workflow_id": status.workflow_id,
            "task_id": f"triage-{stage_id}", "status": status.status}


@router.get("/triage/{triage_id}")
async def get_triage(triage_id: str, user: CurrentUser, services: Services) -> TriageState:
    """Acuity, NEWS2, assessments (scores only), open tasks and whether a physician has seen the patient."""
    state = await _triage_state(services, triage_id)
    resource = await run_in_threadpool(triage_resource, services, "TriageScore", state.patient_id, triage_id)
    await authorize(services, user, action="read", resource=resource, subtype="triage.read")
    return state


@router.post("/triage/{triage_id}/physician-seen")
async def physician_seen(triage_id: str, user: CurrentUser, services: Services) -> TriageState:
    """The attending reports the patient seen: re-assessment timers stop, rapid responses stand down."""
    state = await _triage_state(services, triage_id)
    resource = await run_in_threadpool(triage_resource, services, "TriageScore", state.patient_id, triage_id)
    await authorize(services, user, action="update", resource=resource, subtype="triage.physician-seen")
    return await _update(services, triage_id, "physician_seen", PhysicianSeen(actor=user.user_id, role=user.role))


@router.post("/triage/{triage_id}/admission")
async def link_admission(triage_id: str, body: LinkIn, user: CurrentUser, services: Services) -> TriageState:
    """Link an ED arrival's triage to the stay the patient was admitted to."""
    state = await _triage_state(services, triage_id)
    enc = await run_in_threadpool(_encounter_of, services, body.journey_id)
    if enc is None or enc[1] != state.patient_id:
        raise HTTPException(409, "journey_id: no stay of this patient has that journey")
    resource = await run_in_threadpool(patient_resource, services, "Admission", state.patient_id, enc[0])
    await authorize(services, user, action="create", resource=resource, subtype="triage.link-admission")
    return await _update(services, triage_id, "link_admission",
                         LinkAdmission(journey_id=body.journey_id, encounter_id=enc[0], actor=user.user_id))


async def _update(services: ApiServices, triage_id: str, name: str, arg: Any) -> TriageState:
    handle = services.client().get_workflow_handle(f"triage-{triage_id}")
    return await run_update(handle, name, arg, errors=TRIAGE_ERRORS, ended=f"triage {triage_id} has ended",
                            result_type=TriageState)


async def _triage_state(services: ApiServices, triage_id: str) -> TriageState:
    if len(triage_id) > 80:
        raise HTTPException(404, f"triage {triage_id} not found")
    handle = services.client().get_workflow_handle_for(TriageWorkflow.run, f"triage-{triage_id}")
    try:
        return await handle.query(TriageWorkflow.state)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.FAILED_PRECONDITION):
            raise HTTPException(404, f"triage {triage_id} not found") from exc
        raise


def _find(services: ApiServices, system: str, value: str) -> str | None:
    with services.sessions() as s:
        found = repo.find_patient_by_identifier(s, services.field_cipher, system, value)
        return found or repo.unerased_id(s, services.field_cipher, patient_id_for(services.index_key, system, value))


def _encounter_of(services: ApiServices, journey_id: str) -> tuple[str, str] | None:
    with services.sessions() as s:
        enc = repo.encounter_by_journey(s, journey_id)
        return (enc.id, enc.patient_id) if enc else None

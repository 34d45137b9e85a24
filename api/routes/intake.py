"""Pre-triage intake over the API: start a conversational intake, answer it, read its draft.

The registration desk or a triage nurse starts it for an arrival (demographics or patient id);
a signed-in patient starts it for themselves. Each answer is a workflow update that returns
the next question; a bad answer is a 422 naming what the question takes. The registration
desk relays answers but cannot read the draft back (clinical content).
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.storage.identity import patient_id_for
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.routes.triage_flow import ED, ID, _ed_context, _find, age_on
from api.schemas import PatientIn
from api.services import ApiServices
from api.updates import run_update
from workflows import search_attributes as sa
from workflows.contracts import PatientDemographics
from workflows.intake import IntakeWorkflow
from workflows.triage_contracts import IntakeAnswer, IntakeInput, IntakeState, IntakeStep

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])
ANSWER_ERRORS = {"InvalidAnswer": 422, "IntakeClosed": 409, "IntakeBusy": 409, "IntakeNotReady": 409,
                 "NotStarted": 409}


class IntakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    complaint: Annotated[str, Field(min_length=1, max_length=500)]
    patient: PatientIn | None = None
    patient_id: Annotated[str | None, Field(max_length=36)] = None
    intake_id: Annotated[str | None, Field(pattern=ID)] = None

    @model_validator(mode="after")
    def _not_both(self) -> IntakeIn:
        if self.patient is not None and self.patient_id is not None:
            raise ValueError("give patient (demographics) or patient_id, not both")
        return self


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Any = Field(description="yes/no (true/false), an option, a number or text, as the question asks")
    question_id: Annotated[str | None, Field(max_length=40)] = None


def _resource(services: ApiServices, patient_id: str, intake_id: str) -> dict[str, Any]:
    resource = patient_resource(services, "QuestionnaireResponse", patient_id, intake_id, default_ward=ED)
    resource["ward"] = ED
    return resource


@router.post("", status_code=201)
async def start_intake(body: IntakeIn, user: CurrentUser, services: Services) -> IntakeStep:
    """Start the intake; answers the first question (or, on a red-flag complaint, how it ended)."""
    demographics = None
    if user.role == "patient":
        if body.patient is not None or (body.patient_id and body.patient_id != user.patient_id):
            raise HTTPException(403, "a patient starts an intake only for themselves")
        patient_id = user.patient_id or ""
    elif body.patient is not None:
        p, ident = body.patient, body.patient.identifier
        assert not isinstance(ident, str)
        existing = await run_in_threadpool(_find, services, ident.system, ident.value)
        patient_id = existing or patient_id_for(services.index_key, ident.system, ident.value)
        demographics = PatientDemographics(identifier_system=ident.system, identifier_value=ident.value,
                                           given=p.given, family=p.family, birth_date=p.birth_date, gender=p.gender)
    elif body.patient_id:
        patient_id = body.patient_id
    else:
        raise HTTPException(422, "patient: give the arrival's demographics or patient_id")
    intake_id = body.intake_id or str(uuid.uuid4())
    resource = await run_in_threadpool(_resource, services, patient_id, intake_id)
    await authorize(services, user, action="create", resource=resource, subtype="intake.start")
    ctx = await run_in_threadpool(_ed_context, services, patient_id)
    if demographics is None and not ctx["exists"]:
        raise HTTPException(404, f"patient_id: patient {patient_id} not found")
    birth = demographics.birth_date if demographics else ctx["birth_date"]
    inp = IntakeInput(intake_id=intake_id, patient_id=patient_id, requested_by=user.user_id, complaint=body.complaint,
                      age=age_on(birth, date.today()) if birth else None, patient=demographics)
    handle = await services.client().start_workflow(
        IntakeWorkflow.run, inp, id=f"intake-{intake_id}", task_queue=services.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=sa.journey_attributes(patient_id=patient_id, ward=ED, stage="intake"))
    for _ in range(200):  # the first question is ready once the complaint has been screened
        state = await handle.query(IntakeWorkflow.state)
        if state.status != "starting":
            return state.step
        await asyncio.sleep(0.05)
    raise HTTPException(503, "the intake is starting; read it with GET /api/v1/intake/{id}")


@router.post("/{intake_id}/answers")
async def answer(intake_id: str, body: AnswerIn, user: CurrentUser, services: Services) -> IntakeStep:
    """Answer the open question; returns the next one, or the outcome (completed, red-flag)."""
    state = await _state(services, intake_id)
    resource = await run_in_threadpool(_resource, services, state.patient_id, intake_id)
    await authorize(services, user, action="update", resource=resource, subtype="intake.answer")
    handle = services.client().get_workflow_handle_for(IntakeWorkflow.run, f"intake-{intake_id}")
    return await run_update(handle, IntakeWorkflow.answer, IntakeAnswer(
        value=body.answer, actor=user.user_id, question_id=body.question_id),
        errors=ANSWER_ERRORS, ended=f"intake {intake_id} has ended")


@router.get("/{intake_id}")
async def get_intake(intake_id: str, user: CurrentUser, services: Services) -> IntakeState:
    """The draft: category, answers, red flags, suggested ESI, and the open question."""
    state = await _state(services, intake_id)
    resource = await run_in_threadpool(_resource, services, state.patient_id, intake_id)
    await authorize(services, user, action="read", resource=resource, subtype="intake.read")
    return state


async def _state(services: ApiServices, intake_id: str) -> IntakeState:
    if len(intake_id) > 80:
        raise HTTPException(404, f"intake {intake_id} not found")
    handle = services.client().get_workflow_handle_for(IntakeWorkflow.run, f"intake-{intake_id}")
    try:
        return await handle.query(IntakeWorkflow.state)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise HTTPException(404, f"intake {intake_id} not found") from exc
        raise

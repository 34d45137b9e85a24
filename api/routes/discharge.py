"""Discharge: the attending starts the checklist; the care team reads the discharge summary.

``POST /api/v1/journeys/{id}/discharge-plan`` asks the journey to start ``DischargeWorkflow``
as its child (id ``discharge-<encounter id>``, the journey's ``start_discharge`` update);
calling it again makes the journey re-send its current stages so pending results are
re-checked. The journey refuses (409) unless the patient is admitted.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from activities.storage import clinical_documents, discharge_repo
from activities.storage import repository as repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.fhir.resources import composition_reads
from api.routes.resources import patient_resource
from api.routes.stages import journey_state
from api.services import ApiServices
from api.updates import run_update
from workflows.discharge import DischargeWorkflow
from workflows.discharge_contracts import DischargePlanRequest, DischargePlanStatus
from workflows.journey import PatientJourney

router = APIRouter(prefix="/api/v1/journeys", tags=["discharge"])

#: How the journey's refusal of ``start_discharge`` maps to HTTP.
DISCHARGE_ERRORS = {"JourneyNotReady": 409, "NotStarted": 409, "InvalidDischargePlan": 422}


class DischargePlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Active medication orders to reconcile beyond the journey's running pharmacy stages.
    medication_orders: list[str] = Field(default_factory=list, max_length=100)


@router.post("/{journey_id}/discharge-plan", status_code=202)
async def start_discharge(journey_id: str, user: CurrentUser, services: Services,
                          body: DischargePlanIn | None = None) -> dict[str, Any]:
    """Start (or refresh) the discharge checklist of an admitted patient; attending on the care team."""
    state = await journey_state(services, journey_id)
    resource = await run_in_threadpool(patient_resource, services, "Encounter", state.patient_id,
                                       state.encounter_id, default_ward=state.ward)
    await authorize(services, user, action="update", resource=resource, subtype="encounter.discharge-plan")
    client = services.client()
    plan = DischargePlanRequest(requested_by=user.user_id,
                                medication_orders=list(body.medication_orders) if body else [])
    started: DischargePlanStatus = await run_update(
        client.get_workflow_handle_for(PatientJourney.run, journey_id), PatientJourney.start_discharge, plan,
        errors=DISCHARGE_ERRORS, ended=f"journey {journey_id} has ended", result_type=DischargePlanStatus)
    step, blockers = "starting", []
    try:
        progress = await client.get_workflow_handle_for(DischargeWorkflow.run, started.workflow_id).query(
            DischargeWorkflow.progress)
        step, blockers = progress.step, progress.blockers
    except RPCError:  # the checklist has not run its first task yet: it is starting
        pass
    return {"journey_id": journey_id, "workflow_id": started.workflow_id, "status": started.status, "step": step,
            "blockers": blockers}


@router.get("/{journey_id}/discharge-summary")
async def discharge_summary(journey_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """The stay's discharge summary (FHIR R4 Composition), as last amended (``PUT /fhir/r4/Composition/{id}``)
    if it was; the patient's care team, per policy."""
    found = await run_in_threadpool(_summary, services, journey_id)
    if found is None:
        raise HTTPException(404, f"journey {journey_id} has no discharge summary")
    resource = await run_in_threadpool(patient_resource, services, "Journey", found["patient_id"], journey_id,
                                       default_ward=found["ward"], security=found["security"])
    await authorize(services, user, action="read", resource=resource, subtype="discharge-summary.read")
    return found["resource"]


def _summary(services: ApiServices, journey_id: str) -> dict[str, Any] | None:
    with services.sessions() as s:
        row = discharge_repo.summary_of_journey(s, journey_id)
        if row is None:
            return None
        enc = repo.encounter_by_journey(s, journey_id)
        amended = clinical_documents.get(s, row.id)  # a clinician's amendment (FHIR Composition update) wins
        if amended is not None:
            return {"patient_id": row.patient_id, "security": list(amended.security),
                    "resource": composition_reads.document(s, services.field_cipher, amended),
                    "ward": enc.ward_id if enc else None}
        return {"patient_id": row.patient_id, "security": list(row.security), "resource": row.resource,
                "ward": enc.ward_id if enc else None}

"""Discharge: the attending starts the checklist; the care team reads the discharge summary.

``POST /api/v1/journeys/{id}/discharge-plan`` starts ``DischargeWorkflow`` (id
``discharge-<encounter id>``) from the journey's state and stages; calling it again
sends the journey's current stages so pending results are re-checked.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.storage import discharge_repo
from activities.storage import repository as repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.routes.stages import journey_state
from api.services import ApiServices
from workflows.discharge import DischargeWorkflow
from workflows.discharge_contracts import DischargeInput, StagesUpdate

router = APIRouter(prefix="/api/v1/journeys", tags=["discharge"])


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
    if state.stage != "admitted":
        raise HTTPException(409, f"journey {journey_id} is at stage {state.stage!r}, not admitted")
    workflow_id = f"discharge-{state.encounter_id}"
    inp = DischargeInput(
        journey_id=state.journey_id, patient_id=state.patient_id, encounter_id=state.encounter_id, ward=state.ward,
        requested_by=user.user_id, attending=state.attending, care_team_id=state.care_team_id, bed_id=state.bed_id,
        stages=list(state.stages), medication_orders=list(body.medication_orders) if body else [],
        notify_journey=True, start_billing=True)
    client = services.client()
    try:
        # One discharge per stay: a finished one is not started again.
        handle: WorkflowHandle = await client.start_workflow(
            DischargeWorkflow.run, inp, id=workflow_id, task_queue=services.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        status = "started"
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle_for(DischargeWorkflow.run, workflow_id)
        try:
            await handle.signal(DischargeWorkflow.stages_changed, StagesUpdate(stages=list(state.stages)))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise HTTPException(409, f"the discharge of journey {journey_id} has already ended") from exc
            raise
        status = "refreshed"
    progress = await handle.query(DischargeWorkflow.progress)
    return {"journey_id": journey_id, "workflow_id": workflow_id, "status": status, "step": progress.step,
            "blockers": progress.blockers}


@router.get("/{journey_id}/discharge-summary")
async def discharge_summary(journey_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """The stay's discharge summary (FHIR R4 Composition); the patient's care team, per policy."""
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
        return {"patient_id": row.patient_id, "security": list(row.security), "resource": row.resource,
                "ward": enc.ward_id if enc else None}

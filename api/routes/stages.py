"""Starting a journey stage from a clinical route (the journey's ``start_stage`` update)."""
from __future__ import annotations

from fastapi import HTTPException
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.services import ApiServices
from api.updates import run_update
from workflows.contracts import JourneyState
from workflows.journey import PatientJourney
from workflows.stages import StageRequest, StageStatus


async def journey_state(services: ApiServices, journey_id: str) -> JourneyState:
    """The journey's state (a workflow query); 404 for an id that names no journey."""
    if not journey_id.startswith("journey-") or len(journey_id) > 80:
        raise HTTPException(404, f"journey {journey_id} not found")
    handle = services.client().get_workflow_handle_for(PatientJourney.run, journey_id)
    try:
        return await handle.query(PatientJourney.state)
    except WorkflowQueryFailedError as exc:  # the journey could not answer (e.g. its task is failing): not a 500
        raise HTTPException(503, f"journey {journey_id} cannot report its state right now; try again") from exc
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise HTTPException(404, f"journey {journey_id} not found") from exc
        raise


STAGE_ERRORS = {"InvalidStagePayload": 422, "JourneyNotReady": 409, "NotStarted": 409}


async def start_stage(services: ApiServices, journey_id: str, request: StageRequest) -> StageStatus:
    """Ask the journey to start (or return the already started) stage; 4xx with the journey's reason."""
    handle = services.client().get_workflow_handle_for(PatientJourney.run, journey_id)
    return await run_update(handle, PatientJourney.start_stage, request, errors=STAGE_ERRORS,
                            ended=f"journey {journey_id} is not running", ended_status=404)

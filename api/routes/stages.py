"""Starting a journey stage from a clinical route (the journey's ``start_stage`` update)."""
from __future__ import annotations

from api.services import ApiServices
from api.updates import run_update
from workflows.journey import PatientJourney
from workflows.stages import StageRequest, StageStatus

STAGE_ERRORS = {"InvalidStagePayload": 422, "JourneyNotReady": 409, "NotStarted": 409}


async def start_stage(services: ApiServices, journey_id: str, request: StageRequest) -> StageStatus:
    """Ask the journey to start (or return the already started) stage; 4xx with the journey's reason."""
    handle = services.client().get_workflow_handle_for(PatientJourney.run, journey_id)
    return await run_update(handle, PatientJourney.start_stage, request, errors=STAGE_ERRORS,
                            ended=f"journey {journey_id} is not running", ended_status=404)

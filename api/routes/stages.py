"""Starting a journey stage from a clinical route (the journey's ``start_stage`` update)."""
from __future__ import annotations

from fastapi import HTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.services import ApiServices
from workflows.journey import PatientJourney
from workflows.stages import StageRequest, StageStatus

STAGE_ERRORS = {"InvalidStagePayload": 422, "JourneyNotReady": 409, "NotStarted": 409}


async def start_stage(services: ApiServices, journey_id: str, request: StageRequest) -> StageStatus:
    """Ask the journey to start (or return the already started) stage; 4xx with the journey's reason."""
    handle = services.client().get_workflow_handle_for(PatientJourney.run, journey_id)
    try:
        return await handle.execute_update(PatientJourney.start_stage, request)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise HTTPException(STAGE_ERRORS.get(cause.type or "", 409), cause.message) from exc
        raise HTTPException(409, str(cause or exc)) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, f"journey {journey_id} is not running") from exc
        raise

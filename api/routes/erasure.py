"""Erasure requests (DPDP) and the legal retention holds that block them.

``POST /api/v1/patients/{id}/erasure`` (the patient themself, or a compliance officer on
their behalf) starts an ``ErasureWorkflow`` and answers once its checks have run: 409
with the reasons when the hospital may not erase now (an active encounter, a legal
hold), else 202 while a compliance officer's approval is pending. Approval destroys the
patient's data key; from then on their record reads answer 410.
Legal holds (``/legal-holds``) are placed and released by compliance officers.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.storage import erasure_repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_exists, patient_resource
from api.services import ApiServices
from workflows.erasure import ErasureWorkflow, erasure_workflow_id
from workflows.erasure_contracts import ErasureInput, ErasureState

router = APIRouter(prefix="/api/v1/patients", tags=["erasure"])


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grounds: Literal["patient-request", "consent-withdrawn", "purpose-fulfilled"] = "patient-request"


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The legal basis (case reference, statute); administrative, never clinical content.
    reason: str = Field(min_length=10, max_length=500)


@router.post("/{patient_id}/erasure", status_code=202, response_model=ErasureState,
             responses={409: {"description": "the record may not be erased now (reasons given)"}})
async def request_erasure(patient_id: str, body: ErasureIn, user: CurrentUser, services: Services,
                          response: Response) -> ErasureState:
    """Start (or join) the patient's erasure; 409 with the reasons when a check refuses it."""
    await _require_patient(services, patient_id)
    resource = await run_in_threadpool(patient_resource, services, "ErasureRequest", patient_id)
    granted = await authorize(services, user, action="create", resource=resource, subtype="erasure.request")
    inp = ErasureInput(erasure_id=str(uuid.uuid4()), patient_id=patient_id, requested_by=granted.subject.id,
                       requester_role=granted.subject.role, grounds=body.grounds)
    handle = await services.client().start_workflow(
        ErasureWorkflow.run, inp, id=erasure_workflow_id(patient_id), task_queue=services.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    state = await handle.query(ErasureWorkflow.state)
    for _ in range(200):  # the checks take one activity; answer with their outcome
        if state.status != "checking":
            break
        await asyncio.sleep(0.05)
        state = await handle.query(ErasureWorkflow.state)
    if state.status == "refused":
        raise HTTPException(409, "erasure refused: " + "; ".join(state.reasons))
    if state.erasure_id != inp.erasure_id:
        response.status_code = 200  # a request for this patient is already under way
    return state


@router.get("/{patient_id}/erasure", response_model=ErasureState)
async def erasure_status(patient_id: str, user: CurrentUser, services: Services) -> ErasureState:
    """The patient's latest erasure request and where it stands."""
    await _require_patient(services, patient_id)
    resource = await run_in_threadpool(patient_resource, services, "ErasureRequest", patient_id)
    await authorize(services, user, action="read", resource=resource, subtype="erasure.read")
    handle = services.client().get_workflow_handle_for(ErasureWorkflow.run, erasure_workflow_id(patient_id))
    try:
        return await handle.query(ErasureWorkflow.state)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, f"no erasure request for patient {patient_id}") from exc
        raise


@router.post("/{patient_id}/legal-holds", status_code=201)
async def place_hold(patient_id: str, body: HoldIn, user: CurrentUser, services: Services) -> dict[str, Any]:
    """Place a legal retention hold: while it stands, the record is not erased."""
    await _require_patient(services, patient_id)
    hold_id = str(uuid.uuid4())
    granted = await authorize(services, user, action="create", subtype="legal-hold.place",
                              resource={"type": "LegalHold", "id": hold_id, "patient_id": patient_id})
    await run_in_threadpool(_place, services, hold_id, patient_id, body.reason, granted.subject.id)
    return {"hold_id": hold_id, "patient_id": patient_id}


@router.get("/{patient_id}/legal-holds")
async def list_holds(patient_id: str, user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    """The patient's holds, active and released."""
    await _require_patient(services, patient_id)
    await authorize(services, user, action="list", subtype="legal-hold.list",
                    resource={"type": "LegalHold", "id": None, "patient_id": patient_id})
    return await run_in_threadpool(_holds, services, patient_id)


@router.delete("/{patient_id}/legal-holds/{hold_id}")
async def release_hold(patient_id: str, hold_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """Release a hold (409 if it already was)."""
    await authorize(services, user, action="update", subtype="legal-hold.release",
                    resource={"type": "LegalHold", "id": hold_id, "patient_id": patient_id})
    released = await run_in_threadpool(_release, services, patient_id, hold_id, user.user_id)
    return {"hold_id": hold_id, "released_at": released}


async def _require_patient(services: ApiServices, patient_id: str) -> None:
    if not await run_in_threadpool(patient_exists, services, patient_id):
        raise HTTPException(404, f"patient {patient_id} not found")



def _place(services: ApiServices, hold_id: str, patient_id: str, reason: str, by: str) -> None:
    with services.sessions() as s, s.begin():
        erasure_repo.place_hold(s, hold_id=hold_id, patient_id=patient_id, reason=reason, by=by,
                                cipher=services.field_cipher)


def _holds(services: ApiServices, patient_id: str) -> list[dict[str, Any]]:
    with services.sessions() as s:
        holds = erasure_repo.holds_of(s, patient_id)
        reasons = erasure_repo.hold_reasons(s, services.field_cipher, holds)
        return [{"hold_id": h.id, "reason": reasons[h.id], "placed_by": h.placed_by, "placed_at": h.placed_at,
                 "released_by": h.released_by, "released_at": h.released_at}
                for h in holds]


def _release(services: ApiServices, patient_id: str, hold_id: str, by: str) -> datetime:
    now = datetime.now(UTC)
    with services.sessions() as s, s.begin():
        hold = erasure_repo.get_hold(s, hold_id)
        if hold is None or hold.patient_id != patient_id:
            raise HTTPException(404, f"legal hold {hold_id} not found for patient {patient_id}")
        if not erasure_repo.release_hold(s, hold_id, by, now):
            raise HTTPException(409, f"legal hold {hold_id} was already released")
    return now

"""Break-glass: time-limited emergency access of one clinician to one patient, always reviewed.

``POST /api/v1/break-glass`` (clinical roles) states a reason and gets a grant for one
patient (default 60 minutes, at most 4 hours). Every access it allows is flagged in
the ledger. A ``BreakGlassReview`` workflow (id ``break-glass-<grant id>``) ends the
grant at expiry or on ``DELETE`` (its holder or a compliance officer) and then opens
a review task for the compliance_officer role, escalated when overdue.
The stated reason is stored with the grant for the reviewer; it never enters the ledger.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from activities.storage import security_repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_exists, patient_resource
from api.services import ApiServices
from api.updates import run_update
from workflows.break_glass import BreakGlassReview
from workflows.break_glass_contracts import BreakGlassReviewInput, BreakGlassReviewState, RevokeRequest

router = APIRouter(prefix="/api/v1/break-glass", tags=["break-glass"])

DEFAULT_MINUTES = 60
MAX_MINUTES = 240
MIN_REASON = 20


class BreakGlassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: str = Field(min_length=1, max_length=36)
    reason: str = Field(max_length=1000)
    minutes: int = Field(default=DEFAULT_MINUTES, ge=5, le=MAX_MINUTES)

    @field_validator("reason")
    @classmethod
    def _meaningful(cls, v: str) -> str:
        words = [w for w in v.split() if any(c.isalpha() for c in w)]
        if len(v.strip()) < MIN_REASON or len(words) < 3:
            raise ValueError(f"state the emergency in at least {MIN_REASON} characters and three words")
        return v.strip()


class GrantOut(BaseModel):
    grant_id: str
    patient_id: str
    expires_at: datetime
    review_workflow_id: str


class GrantView(BaseModel):
    grant_id: str
    patient_id: str
    holder: str
    role: str
    reason: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    review_status: str
    review_outcome: str | None
    reviewed_by: str | None


def review_workflow_id(grant_id: str) -> str:
    return f"break-glass-{grant_id}"


@router.post("", status_code=201, response_model=GrantOut)
async def request_break_glass(body: BreakGlassIn, user: CurrentUser, services: Services) -> GrantOut:
    exists = await run_in_threadpool(patient_exists, services, body.patient_id)
    if not exists:
        raise HTTPException(404, f"patient {body.patient_id} not found")
    grant_id = str(uuid.uuid4())
    resource = await run_in_threadpool(patient_resource, services, "BreakGlass", body.patient_id, grant_id)
    granted = await authorize(services, user, action="create", resource=resource, subtype="break-glass.request",
                              purpose="ETREAT")
    now = datetime.now(UTC)
    expires_at = now + timedelta(minutes=body.minutes)
    workflow_id = review_workflow_id(grant_id)
    # The review exists before the grant does: no grant is ever usable without its review.
    await services.client().start_workflow(
        BreakGlassReview.run,
        BreakGlassReviewInput(grant_id=grant_id, patient_id=body.patient_id, user_id=granted.subject.id,
                              role=granted.subject.role, ward=resource.get("ward"), expires_at=expires_at),
        id=workflow_id, task_queue=services.task_queue)
    await run_in_threadpool(_store, services, grant_id, body, granted.subject.id, granted.subject.role, now,
                            expires_at, workflow_id)
    return GrantOut(grant_id=grant_id, patient_id=body.patient_id, expires_at=expires_at,
                    review_workflow_id=workflow_id)


@router.delete("/{grant_id}", response_model=dict[str, Any])
async def revoke_break_glass(grant_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """End a grant now: its holder, or a compliance officer."""
    grant = await run_in_threadpool(_grant, services, grant_id)
    if grant is None:
        raise HTTPException(404, f"break-glass grant {grant_id} not found")
    resource = {"type": "BreakGlass", "id": grant_id, "patient_id": grant.patient_id, "holder": grant.holder}
    await authorize(services, user, action="update", resource=resource, subtype="break-glass.revoke")
    handle = services.client().get_workflow_handle_for(BreakGlassReview.run, review_workflow_id(grant_id))
    state: BreakGlassReviewState = await run_update(
        handle, BreakGlassReview.revoke, RevokeRequest(by=user.user_id), errors={"GrantEnded": 409},
        ended=f"break-glass grant {grant_id} has already ended", result_type=BreakGlassReviewState)
    return {"grant_id": grant_id, "status": state.status, "ended_at": state.ended_at, "revoked_by": state.revoked_by}


@router.get("/{grant_id}", response_model=GrantView)
async def read_break_glass(grant_id: str, user: CurrentUser, services: Services) -> GrantView:
    """A grant with its stated reason and review state: compliance officers (the reviewers)."""
    grant = await run_in_threadpool(_grant, services, grant_id)
    if grant is None:
        raise HTTPException(404, f"break-glass grant {grant_id} not found")
    resource = {"type": "BreakGlass", "id": grant_id, "patient_id": grant.patient_id, "holder": grant.holder}
    await authorize(services, user, action="read", resource=resource, subtype="break-glass.read")
    return grant


@router.get("", response_model=list[GrantView])
async def list_break_glass(user: CurrentUser, services: Services, review_status: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[GrantView]:
    """Grants, newest first, optionally by review status (pending, escalated, reviewed): compliance officers."""
    if review_status not in (None, "pending", "escalated", "reviewed"):
        raise HTTPException(422, "review_status: one of pending, escalated, reviewed")
    await authorize(services, user, action="list", resource={"type": "BreakGlass", "id": None, "patient_id": None},
                    subtype="break-glass.list")
    return await run_in_threadpool(_list, services, review_status, limit)



def _store(services: ApiServices, grant_id: str, body: BreakGlassIn, holder: str, role: str, now: datetime,
           expires_at: datetime, workflow_id: str) -> None:
    with services.sessions() as s, s.begin():
        security_repo.add_grant(s, grant_id=grant_id, patient_id=body.patient_id, user_id=holder, role=role,
                                reason=body.reason, created_at=now, expires_at=expires_at, workflow_id=workflow_id,
                                cipher=services.field_cipher)


def _view(g: Any, reason: str) -> GrantView:
    return GrantView(grant_id=g.id, patient_id=g.patient_id, holder=g.user_id, role=g.role, reason=reason,
                     created_at=g.created_at, expires_at=g.expires_at, revoked_at=g.revoked_at,
                     revoked_by=g.revoked_by, review_status=g.review_status, review_outcome=g.review_outcome,
                     reviewed_by=g.reviewed_by)


def _grant(services: ApiServices, grant_id: str) -> GrantView | None:
    if len(grant_id) > 36:
        return None
    with services.sessions() as s:
        g = security_repo.get_grant(s, grant_id)
        return None if g is None else _view(g, security_repo.grant_reasons(s, services.field_cipher, [g])[g.id])


def _list(services: ApiServices, review_status: str | None, limit: int) -> list[GrantView]:
    with services.sessions() as s:
        grants = security_repo.list_grants(s, review_status=review_status, limit=limit)
        reasons = security_repo.grant_reasons(s, services.field_cipher, grants)
        return [_view(g, reasons[g.id]) for g in grants]

"""A patient's right to correction (DPDP Act): the request is a task for registration.

``POST /api/v1/patients/{id}/corrections`` (the patient, on their own record) stores the
request (the proposed value encrypted under the patient's data key) and starts a
``CorrectionRequest`` workflow that opens a task for the registration_clerk role; the
clerk decides it through ``POST /api/v1/tasks/{task id}/complete``. Demographics are
never changed automatically. ``GET`` lists the requests to whoever may read the
patient's demographics (the patient, registration, the care team).
"""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from activities.storage import correction_repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_exists, patient_resource
from api.services import ApiServices
from workflows.correction import ROLE, TASK, CorrectionRequest
from workflows.correction_contracts import CorrectionRequestInput

router = APIRouter(prefix="/api/v1/patients", tags=["corrections"])

GENDERS = ("male", "female", "other", "unknown")


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    field: Literal["given", "family", "birth_date", "gender", "identifier"]
    proposed_value: str = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _value_fits_field(self) -> CorrectionIn:
        if self.field == "birth_date":
            try:
                date.fromisoformat(self.proposed_value)
            except ValueError as exc:
                raise ValueError("proposed_value: a birth date as YYYY-MM-DD") from exc
        if self.field == "gender" and self.proposed_value not in GENDERS:
            raise ValueError(f"proposed_value: one of {', '.join(GENDERS)}")
        return self


class CorrectionOpened(BaseModel):
    request_id: str
    task_id: str
    workflow_id: str
    status: str


class CorrectionOut(BaseModel):
    id: str
    patient_id: str
    field: str
    proposed_value: str
    comment: str | None
    requested_by: str
    requested_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


def correction_workflow_id(request_id: str) -> str:
    return f"correction-{request_id}"


@router.post("/{patient_id}/corrections", status_code=202, response_model=CorrectionOpened)
async def request_correction(patient_id: str, body: CorrectionIn, user: CurrentUser,
                             services: Services) -> CorrectionOpened:
    """File a correction request on one's own record; registration gets a task to decide it."""
    if not await run_in_threadpool(patient_exists, services, patient_id):
        raise HTTPException(404, f"patient {patient_id} not found")
    request_id = str(uuid.uuid4())
    resource = await run_in_threadpool(patient_resource, services, "Task", patient_id, request_id, task_role=ROLE)
    granted = await authorize(services, user, action="create", resource=resource, subtype="correction.request")
    workflow_id = correction_workflow_id(request_id)
    await run_in_threadpool(_store, services, request_id, patient_id, body, granted.subject.id, workflow_id)
    try:
        await services.client().start_workflow(
            CorrectionRequest.run,
            CorrectionRequestInput(request_id=request_id, patient_id=patient_id, field=body.field,
                                   requested_by=granted.subject.id),
            id=workflow_id, task_queue=services.task_queue)
    except BaseException:
        await run_in_threadpool(_remove, services, request_id)  # no request without its task
        raise
    return CorrectionOpened(request_id=request_id, task_id=f"{TASK}-{request_id}", workflow_id=workflow_id,
                            status="open")


@router.get("/{patient_id}/corrections", response_model=list[CorrectionOut])
async def list_corrections(patient_id: str, user: CurrentUser, services: Services) -> list[CorrectionOut]:
    """The patient's correction requests with their proposed values and decisions, newest first."""
    if not await run_in_threadpool(patient_exists, services, patient_id):
        raise HTTPException(404, f"patient {patient_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "Patient", patient_id)
    await authorize(services, user, action="read", resource=resource, subtype="correction.list")
    return await run_in_threadpool(_list, services, patient_id)



def _store(services: ApiServices, request_id: str, patient_id: str, body: CorrectionIn, by: str,
           workflow_id: str) -> None:
    with services.sessions() as s, s.begin():
        correction_repo.add(s, services.field_cipher, request_id=request_id, patient_id=patient_id,
                            field=body.field, proposed_value=body.proposed_value, comment=body.comment,
                            requested_by=by, requested_at=datetime.now(UTC), workflow_id=workflow_id)


def _remove(services: ApiServices, request_id: str) -> None:
    with services.sessions() as s, s.begin():
        correction_repo.remove_open(s, request_id)


def _list(services: ApiServices, patient_id: str) -> list[CorrectionOut]:
    with services.sessions() as s:
        return [CorrectionOut.model_validate(v, from_attributes=True)  # the view less its workflow id
                for v in correction_repo.for_patient(s, services.field_cipher, patient_id)]

"""A patient's consents per purpose of use (DPDP Act, HIPAA): read, record, withdraw.

Read: the patient themself, registration, and the treating staff (per policy).
Record (grant or refusal): registration, or the patient. Withdraw: the patient, or
registration on the patient's behalf. A withdrawal is a new record; from the next
request on the policy refuses processing for that purpose except emergency
treatment (ETREAT, under break-glass). The ledger gets the access entry of each
call (identifiers, purpose and decision), never more.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from activities.storage import consent_repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_exists, patient_resource
from api.services import ApiServices

router = APIRouter(prefix="/api/v1/patients", tags=["consents"])

Purpose = Literal["TREAT", "HRESCH", "HMARKT"]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: Purpose
    #: ``false`` records a refusal, which the policy treats like a withdrawal.
    granted: bool = True


class ConsentOut(BaseModel):
    id: str
    patient_id: str
    purpose: str
    status: str
    recorded_by: str
    recorded_at: datetime


class ConsentsOut(BaseModel):
    patient_id: str
    #: The current status per purpose (``None``: nothing recorded).
    current: dict[str, str | None]
    #: Every record, newest first.
    records: list[ConsentOut]


@router.get("/{patient_id}/consents", response_model=ConsentsOut)
async def read_consents(patient_id: str, user: CurrentUser, services: Services) -> ConsentsOut:
    """The patient's consents: current state per purpose and the full history."""
    await _require_patient(services, patient_id)
    resource = await run_in_threadpool(patient_resource, services, "Consent", patient_id)
    await authorize(services, user, action="read", resource=resource, subtype="consent.read")
    return await run_in_threadpool(_consents, services, patient_id)


@router.post("/{patient_id}/consents", status_code=201, response_model=ConsentOut)
async def record_consent(patient_id: str, body: ConsentIn, user: CurrentUser, services: Services) -> ConsentOut:
    """Record consent (or its refusal) for one purpose; processing for it resumes from now on."""
    await _require_patient(services, patient_id)
    consent_id = f"consent-{uuid.uuid4()}"
    resource = await run_in_threadpool(patient_resource, services, "Consent", patient_id, consent_id,
                                       purpose_of_consent=body.purpose)
    granted = await authorize(services, user, action="create", resource=resource, subtype="consent.record")
    status = consent_repo.ACTIVE if body.granted else consent_repo.REJECTED
    return await run_in_threadpool(_record, services, consent_id, patient_id, body.purpose, status,
                                   granted.subject.id)


@router.post("/{patient_id}/consents/{purpose}/withdraw", response_model=ConsentOut)
async def withdraw_consent(patient_id: str, purpose: str, user: CurrentUser, services: Services) -> ConsentOut:
    """Withdraw the active consent for ``purpose``; 409 when there is none to withdraw."""
    purpose = purpose.upper()
    if purpose not in consent_repo.PURPOSES:
        raise HTTPException(422, f"purpose: one of {', '.join(consent_repo.PURPOSES)}")
    await _require_patient(services, patient_id)
    consent_id = f"consent-{uuid.uuid4()}"
    resource = await run_in_threadpool(patient_resource, services, "Consent", patient_id, consent_id,
                                       purpose_of_consent=purpose)
    granted = await authorize(services, user, action="update", resource=resource, subtype="consent.withdraw")
    return await run_in_threadpool(_withdraw, services, consent_id, patient_id, purpose, granted.subject.id)


async def _require_patient(services: ApiServices, patient_id: str) -> None:
    if not await run_in_threadpool(patient_exists, services, patient_id):
        raise HTTPException(404, f"patient {patient_id} not found")



def _out(r: consent_repo.ConsentRecord) -> ConsentOut:
    return ConsentOut(id=r.id, patient_id=r.patient_id, purpose=r.purpose, status=r.status,
                      recorded_by=r.recorded_by, recorded_at=r.recorded_at)


def _consents(services: ApiServices, patient_id: str) -> ConsentsOut:
    with services.sessions() as s:
        return ConsentsOut(patient_id=patient_id, current=consent_repo.consent_state(s, patient_id),
                           records=[_out(r) for r in consent_repo.history(s, patient_id)])


def _record(services: ApiServices, consent_id: str, patient_id: str, purpose: str, status: str,
            by: str) -> ConsentOut:
    with services.sessions() as s, s.begin():
        return _out(consent_repo.record(s, consent_id=consent_id, patient_id=patient_id, purpose=purpose,
                                        status=status, by=by))


def _withdraw(services: ApiServices, consent_id: str, patient_id: str, purpose: str, by: str) -> ConsentOut:
    try:
        with services.sessions() as s, s.begin():
            return _out(consent_repo.withdraw(s, consent_id=consent_id, patient_id=patient_id, purpose=purpose,
                                              by=by))
    except consent_repo.NoActiveConsent as exc:
        raise HTTPException(409, str(exc)) from exc

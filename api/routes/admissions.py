"""Admissions: the registration desk starts a patient's journey."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response
from starlette.concurrency import run_in_threadpool
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.storage import repository as repo
from activities.storage.identity import admission_encounter_id, patient_id_for
from api.access import authorize
from api.deps import CurrentUser, Services
from api.schemas import AdmissionIn, AdmissionOut
from api.services import ApiServices
from workflows import search_attributes as sa
from workflows.contracts import JourneyInput, PatientDemographics
from workflows.journey import PatientJourney, journey_id_for

router = APIRouter(prefix="/api/v1/admissions", tags=["admissions"])


@router.post("", status_code=202, response_model=AdmissionOut,
             responses={200: {"description": "the same admission was already started"}})
async def admit(body: AdmissionIn, user: CurrentUser, services: Services, response: Response,
                idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> AdmissionOut:
    """Start a ``PatientJourney`` whose first stage admits the patient to a bed on the ward.

    Idempotent: an identical request (or one with the same ``Idempotency-Key``) returns
    the journey already started, with 200 instead of 202.
    """
    wards = await run_in_threadpool(_ward_ids, services)
    if body.ward not in wards:
        raise HTTPException(422, f"ward: unknown ward {body.ward!r} (one of {', '.join(wards)})")
    ident = body.patient.identifier
    assert not isinstance(ident, str)
    existing_id, active, active_reason = await run_in_threadpool(_lookup, services, ident.system, ident.value)
    patient_id = existing_id or patient_id_for(services.index_key, ident.system, ident.value)
    await authorize(services, user, action="create", subtype="admission.create",
                    resource={"type": "Admission", "patient_id": patient_id, "ward": body.ward})
    if active is not None:
        if (active.ward_id, active_reason) != (body.ward, body.reason):
            raise HTTPException(409, f"the patient already has an active encounter (journey {active.journey_id})")
        response.status_code = 200
        return AdmissionOut(journey_id=active.journey_id, patient_id=patient_id, encounter_id=active.id,
                            status="existing")

    encounter_id = _encounter_id(services, patient_id, body, idempotency_key)
    started = await _start(services, user.user_id, body, patient_id, encounter_id)
    if started is None:  # the same key was used by a journey that has already ended
        encounter_id = str(uuid.uuid4())
        started = await _start(services, user.user_id, body, patient_id, encounter_id)
    if started is False:
        response.status_code = 200
    return AdmissionOut(journey_id=journey_id_for(encounter_id), patient_id=patient_id, encounter_id=encounter_id,
                        status="started" if started else "existing")


def _ward_ids(services: ApiServices) -> list[str]:
    with services.sessions() as s:
        return repo.ward_ids(s)


def _lookup(services: ApiServices, system: str, value: str) -> tuple[str | None, repo.Encounter | None, str | None]:
    """(patient id, their active stay, its reason decrypted)."""
    with services.sessions() as s:
        pid = repo.find_patient_by_identifier(s, services.field_cipher, system, value)
        if pid is None:  # a new patient: the derived id, or its successor if that record was erased
            return (repo.unerased_id(s, services.field_cipher, patient_id_for(services.index_key, system, value)),
                    None, None)
        active = repo.active_encounter(s, pid)
        reason = None if active is None else repo.encounter_reason(s, services.field_cipher, active)
        return pid, active, reason


def _encounter_id(services: ApiServices, patient_id: str, body: AdmissionIn, key: str | None) -> str:
    """Same request, same day (or same Idempotency-Key) → same encounter, so retries converge."""
    if key is None:
        key = json.dumps(body.model_dump(mode="json"), sort_keys=True) + datetime.now(UTC).date().isoformat()
    return admission_encounter_id(services.index_key, patient_id, key)


async def _start(services: ApiServices, requested_by: str, body: AdmissionIn, patient_id: str,
                 encounter_id: str) -> bool | None:
    """True if started now, False if already running, None if that id belongs to an ended journey."""
    p = body.patient
    assert not isinstance(p.identifier, str)
    journey_id = journey_id_for(encounter_id)
    inp = JourneyInput(
        journey_id=journey_id, encounter_id=encounter_id, patient_id=patient_id,
        patient=PatientDemographics(identifier_system=p.identifier.system, identifier_value=p.identifier.value,
                                    given=p.given, family=p.family, birth_date=p.birth_date, gender=p.gender),
        ward=body.ward, reason=body.reason, requested_by=requested_by, consent=body.consent,
        attending=body.attending, bed_wait_deadline_seconds=services.bed_wait_deadline_seconds,
        hl7_destinations=list(services.hl7_destinations),
    )
    try:
        handle = await services.client().start_workflow(
            PatientJourney.run, inp, id=journey_id, task_queue=services.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=sa.journey_attributes(patient_id=patient_id, ward=body.ward, stage="admission"),
        )
    except WorkflowAlreadyStartedError:
        return None
    response = getattr(handle, "_start_workflow_response", None)
    return bool(getattr(response, "started", True))

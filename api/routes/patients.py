"""Patients: demographics and the current encounter, per policy."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage.patient_view import patient_view
from api.access import authorized_read
from api.deps import CurrentUser, Services
from api.routes.resources import known_patient_resource
from api.schemas import EncounterOut, Identifier, PatientOut
from api.services import ApiServices

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])


@router.get("/{patient_id}", response_model=PatientOut)
async def get_patient(patient_id: str, user: CurrentUser, services: Services) -> PatientOut:
    """Demographics (decrypted) and current encounter; 404 for an unknown id, 403 (recorded) when the policy
    says no, 410 once the record was erased (its data key destroyed)."""
    resource = await run_in_threadpool(known_patient_resource, services, "Patient", patient_id)
    if resource is None:
        raise HTTPException(404, f"patient {patient_id} not found")
    return await authorized_read(services, user, lambda: _read(services, patient_id), action="read",
                                 resource=resource, subtype="patient.read")



def _read(services: ApiServices, patient_id: str) -> PatientOut:
    with services.sessions() as s:
        found = patient_view(s, services.field_cipher, patient_id)
    if found is None:
        raise HTTPException(404, f"patient {patient_id} not found")
    p, stay = found
    encounter = None if stay is None else EncounterOut(
        id=stay.id, status=stay.status, ward=stay.ward, bed_id=stay.bed_id, attending=stay.attending,
        reason=stay.reason, admitted_at=stay.admitted_at, journey_id=stay.journey_id)
    identifiers = [Identifier(system=system, value=value) for system, value in p.identifiers]
    return PatientOut(id=p.id, identifiers=identifiers, given=p.given, family=p.family, birth_date=p.birth_date,
                      gender=p.gender, encounter=encounter)

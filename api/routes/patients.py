"""Patients: demographics and the current encounter, per policy."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage import repository as repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_exists, patient_resource
from api.schemas import EncounterOut, Identifier, PatientOut
from api.services import ApiServices

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])


@router.get("/{patient_id}", response_model=PatientOut)
async def get_patient(patient_id: str, user: CurrentUser, services: Services) -> PatientOut:
    """Demographics (decrypted) and current encounter; 404 for an unknown id, 403 (recorded) when the policy
    says no, 410 once the record was erased (its data key destroyed)."""
    exists = await run_in_threadpool(patient_exists, services, patient_id)
    if not exists:
        raise HTTPException(404, f"patient {patient_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "Patient", patient_id)
    await authorize(services, user, action="read", resource=resource, subtype="patient.read")
    return await run_in_threadpool(_read, services, patient_id)



def _read(services: ApiServices, patient_id: str) -> PatientOut:
    with services.sessions() as s:
        p = repo.read_patient(s, services.field_cipher, patient_id)
        if p is None:
            raise HTTPException(404, f"patient {patient_id} not found")
        enc = repo.current_encounter(s, patient_id)
        encounter = None
        if enc is not None:
            encounter = EncounterOut(id=enc.id, status=enc.status, ward=enc.ward_id, bed_id=repo.bed_of(s, enc.id),
                                     attending=enc.attending_id, reason=enc.reason, admitted_at=enc.admitted_at,
                                     journey_id=enc.journey_id)
        identifiers = [Identifier(system=system, value=value) for system, value in p.identifiers]
        return PatientOut(id=p.id, identifiers=identifiers,
                          given=p.given, family=p.family, birth_date=p.birth_date, gender=p.gender,
                          encounter=encounter)

"""Patients: demographics and the current encounter, per policy."""
from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, HTTPException

from activities.storage.patient_view import CHART_STATEMENT, decode_chart, policy_facts
from api.access import authorized_read
from api.async_reads import CompiledRead, ReadUnavailable
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource_of
from api.schemas import EncounterOut, Identifier, PatientOut
from api.services import ApiServices

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])


@router.get("/{patient_id}", response_model=PatientOut)
async def get_patient(patient_id: str, user: CurrentUser, services: Services) -> PatientOut:
    """Demographics (decrypted) and current encounter; 404 for an unknown id, 403 (recorded) when the policy
    says no, 410 once the record was erased (its data key destroyed).

    The policy's facts and the stored chart come back in one statement (one trip to the database); the
    chart stays ciphertext until the policy has allowed the read and the ledger has recorded it (a refused
    read is recorded and never decrypted)."""
    found = await _fetch(services, patient_id)
    if found is None:
        raise HTTPException(404, f"patient {patient_id} not found")
    resource, row = found
    # Decoding is in memory unless the data key is not in the row (then it is read: not on the event loop).
    return await authorized_read(services, user, lambda: _decode(services, patient_id, row), action="read",
                                 resource=resource, subtype="patient.read", in_memory=_key_in(row))


async def _fetch(services: ApiServices, patient_id: str) -> tuple[dict[str, Any], Any] | None:
    """(the policy's resource, the stored chart row) of a registered patient, None for an unknown id: one
    statement on the event loop (``api.async_reads``), no trip to the thread pool."""
    reads = services.async_reads
    if reads is None:
        raise RuntimeError("patient reads need the database engine")
    if len(patient_id) > 36:
        return None
    try:
        row = await reads.first(_chart(reads.dialect), patient_id=patient_id)
    except ReadUnavailable:
        raise HTTPException(503, "the database is unavailable; try again", headers={"Retry-After": "5"}) from None
    return None if row is None else (patient_resource_of("Patient", patient_id, policy_facts(row)), row)


@functools.cache
def _chart(dialect: Any) -> CompiledRead:
    """The chart statement compiled for the driver, once."""
    return CompiledRead.of(CHART_STATEMENT, dialect, "patient_id")


def _key_in(row: Any) -> bool:
    return row.kek_id is not None or row.shredded_at is not None


def _decode(services: ApiServices, patient_id: str, row: Any) -> PatientOut:
    if _key_in(row):
        p, stay = decode_chart(None, services.field_cipher, patient_id, row)
    else:  # no key in the row: look it up
        with services.sessions() as s:
            p, stay = decode_chart(s, services.field_cipher, patient_id, row)
    encounter = None if stay is None else EncounterOut(
        id=stay.id, status=stay.status, ward=stay.ward, bed_id=stay.bed_id, attending=stay.attending,
        reason=stay.reason, admitted_at=stay.admitted_at, journey_id=stay.journey_id)
    identifiers = [Identifier(system=system, value=value) for system, value in p.identifiers]
    return PatientOut(id=p.id, identifiers=identifiers, given=p.given, family=p.family, birth_date=p.birth_date,
                      gender=p.gender, encounter=encounter)

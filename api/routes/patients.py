"""Patients: demographics and the current encounter, per policy."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage.patient_view import CHART_STATEMENT, decode_chart, fetch_chart, policy_facts
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
    found = await _fetch_async(services, patient_id) if services.async_reads is not None else \
        await run_in_threadpool(_fetch, services, patient_id)
    if found is None:
        raise HTTPException(404, f"patient {patient_id} not found")
    resource, row = found
    if row.kek_id is None and row.shredded_at is None:  # the data key is not in the row: decoding reads it
        return await authorized_read(services, user, lambda: _decode(services, patient_id, row), action="read",
                                     resource=resource, subtype="patient.read")
    return await authorized_read(services, user, lambda: _decode(services, patient_id, row), action="read",
                                 resource=resource, subtype="patient.read", in_memory=True)


async def _fetch_async(services: ApiServices, patient_id: str) -> tuple[dict[str, Any], Any] | None:
    """``_fetch`` on the event loop (``api.async_reads``): no trip to the thread pool."""
    global _CHART
    reads = services.async_reads
    assert reads is not None
    if len(patient_id) > 36:
        return None
    if _CHART is None:
        _CHART = CompiledRead.of(CHART_STATEMENT, reads.dialect, "patient_id")
    try:
        row = await reads.first(_CHART, patient_id=patient_id)
    except ReadUnavailable:
        raise HTTPException(503, "the database is unavailable; try again", headers={"Retry-After": "5"}) from None
    return None if row is None else (patient_resource_of("Patient", patient_id, policy_facts(row)), row)


#: The chart statement compiled for the driver, once.
_CHART: CompiledRead | None = None


def _fetch(services: ApiServices, patient_id: str) -> tuple[dict[str, Any], Any] | None:
    """(the policy's resource, the stored chart row) of a registered patient; None for an unknown id."""
    if len(patient_id) > 36:
        return None
    with services.read_connection() as c:  # one statement, no transaction around it
        row = fetch_chart(c, patient_id)
    return None if row is None else (patient_resource_of("Patient", patient_id, policy_facts(row)), row)


def _decode(services: ApiServices, patient_id: str, row: Any) -> PatientOut:
    if row.kek_id is None and row.shredded_at is None:  # no key in the row: look it up
        with services.reads() as s:
            p, stay = decode_chart(s, services.field_cipher, patient_id, row)
    else:
        p, stay = decode_chart(None, services.field_cipher, patient_id, row)
    encounter = None if stay is None else EncounterOut(
        id=stay.id, status=stay.status, ward=stay.ward, bed_id=stay.bed_id, attending=stay.attending,
        reason=stay.reason, admitted_at=stay.admitted_at, journey_id=stay.journey_id)
    identifiers = [Identifier(system=system, value=value) for system, value in p.identifiers]
    return PatientOut(id=p.id, identifiers=identifiers, given=p.given, family=p.family, birth_date=p.birth_date,
                      gender=p.gender, encounter=encounter)

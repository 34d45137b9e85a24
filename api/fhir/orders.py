"""Creates that start a journey stage: ServiceRequest (imaging) and MedicationRequest (pharmacy).

An order posted over FHIR goes where the task API's order routes send it: the ``start_stage`` update
of the patient's current journey, after the same policy decision (``create`` of the type, recorded in
the ledger) and the same payload checks (``resources.order_writes``). The stage's workflow stores the
order, so the resource can be read only once the stage has recorded it: the answer is ``202 Accepted``
with ``Content-Location`` naming the resource and an OperationOutcome saying which stage runs it.

The order's id is the stage id. With an identifier it is derived from it (a blind index), and the
journey returns an already started stage for the same id, so a repeated create starts nothing new.
Like ``journey_notify``, this runs outside the registry's database session: the update is async.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage import repository as repo
from api.auth import Principal
from api.fhir import guard
from api.fhir import registry as reg
from api.fhir.errors import FhirError, outcome
from api.fhir.registry import Resource, ResourceType
from api.fhir.resources.common import ref_of
from api.fhir.versions import validate
from api.routes.stages import start_stage
from api.services import ApiServices
from workflows.stages import StageRequest


@dataclass(frozen=True)
class Accepted:
    """A create handed to a journey stage: where the resource will be, and what to tell the client."""

    rtype: str
    id: str
    outcome: dict[str, Any]


def order_id(services: ApiServices, rtype: str, body: Resource) -> str:
    """The stage id: derived from the first identifier (idempotent creates), else a fresh uuid."""
    idents = body.get("identifier") or []
    first = idents[0] if idents and isinstance(idents[0], dict) else {}
    if not first.get("value"):
        return str(uuid.uuid4())
    index = services.field_cipher.blind_index(f"{rtype}|{first.get('system') or ''}", str(first["value"]))
    return str(uuid.UUID(bytes=index[:16], version=4))


def _current_journey(services: ApiServices, patient_id: str) -> tuple[str, str] | None:
    """(encounter id, journey id) of the patient's stay in progress, if any."""
    with services.sessions() as s:
        enc = repo.active_encounter(s, patient_id)
    return (enc.id, enc.journey_id) if enc else None


async def submit(services: ApiServices, user: Principal, rt: ResourceType, body: Any) -> Accepted:
    """Validate, authorize, then start the order's stage on the patient's current journey."""
    assert rt.stage is not None
    body = validate(rt, body)
    kind, payload = rt.stage(body)
    rid = order_id(services, rt.name, body)
    patient_id = reg.patient_of(rt, body)
    await guard.check(services, user, rt, "create", patient_id=patient_id, resource_id=rid, security=[])
    if patient_id is None or len(patient_id) > 36:
        raise FhirError(422, f"{rt.name}.subject must reference a Patient", expression=[f"{rt.name}.subject"])
    stay = await run_in_threadpool(_current_journey, services, patient_id)
    if stay is None:
        raise FhirError(409, f"the patient has no stay in progress for a {rt.name} to start on")
    encounter_id, journey_id = stay
    named = ref_of(body, "encounter")
    if named is not None and named != encounter_id:
        raise FhirError(422, f"{rt.name}.encounter must be the patient's stay in progress",
                        expression=[f"{rt.name}.encounter"])
    if services.temporal is None:
        raise FhirError(503, "the workflow engine is not reachable; try again")
    request = StageRequest(kind=kind, stage_id=rid, requested_by=user.user_id, payload=payload,
                           inference_task_queue=services.inference_task_queue if kind == "imaging" else None)
    try:
        status = await start_stage(services, journey_id, request)
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None
    text = (f"accepted: {rt.name}/{rid} is ordered; the journey's {kind} stage ({status.workflow_id}, "
            f"{status.status}) records it, and it can be read once recorded")
    return Accepted(rt.name, rid, outcome(text, severity="information", code="informational"))

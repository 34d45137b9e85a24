"""Creates that start a journey stage: ServiceRequest (imaging) and MedicationRequest (pharmacy).

An order posted over FHIR goes where the task API's order routes send it: the ``start_stage`` update
of the patient's current journey, after the same policy decision (``create`` of the type, recorded in
the ledger) and the same payload checks (``resources.order_writes``). The stage's workflow stores the
order, so the resource can be read only once the stage has recorded it: the answer is ``202 Accepted``
with ``Content-Location`` naming the resource and an OperationOutcome saying which stage runs it.

The order's id is the stage id. With an identifier it is derived from it and the patient (a blind
index), and the journey returns an already started stage for the same id, so a repeated create starts
nothing new, while the same placer number for another patient is another order (as HL7 orders are).
An order stored before the id took the patient in keeps its id. The create's identifiers are kept
(``resources.identifiers``) before the stage starts, so they exist by the time it records the order.
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
from api.fhir.interactions import session_call
from api.fhir.registry import Resource, ResourceType
from api.fhir.resources.common import ref_of
from api.fhir.resources.identifiers import elements, remember
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


def order_id(services: ApiServices, rtype: str, body: Resource, patient_id: str | None = None) -> str:
    """The stage id: derived from the first identifier and the patient (idempotent creates), else a fresh uuid.

    ``patient_id`` None gives the id orders had before it took the patient in (``_kept_id``).
    """
    idents = body.get("identifier") or []
    first = idents[0] if idents and isinstance(idents[0], dict) else {}
    if not first.get("value"):
        return str(uuid.uuid4())
    scope = rtype if patient_id is None else f"{rtype}|{patient_id}"
    index = services.field_cipher.blind_index(f"{scope}|{first.get('system') or ''}", str(first["value"]))
    return str(uuid.UUID(bytes=index[:16], version=4))


def _kept_id(services: ApiServices, rt: ResourceType, body: Resource, patient_id: str) -> str:
    """The order's id: the one stored for this patient under the earlier derivation, else the patient's."""
    rid = order_id(services, rt.name, body, patient_id)
    if not (body.get("identifier") or [{}])[0].get("value") or rt.read is None:
        return rid
    earlier = order_id(services, rt.name, body)

    def stored_for_patient(session: Any, cipher: Any) -> bool:
        found = rt.read(session, cipher, earlier)  # type: ignore[misc]
        return found is not None and reg.patient_of(rt, found) == patient_id

    return earlier if session_call(services, stored_for_patient) else rid


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
    elements(rt.name, body)
    patient_id = reg.patient_of(rt, body)
    rid = (await run_in_threadpool(_kept_id, services, rt, body, patient_id)
           if patient_id is not None and len(patient_id) <= 36 else str(uuid.uuid4()))
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
    await run_in_threadpool(session_call, services, remember, rt.name, rid, patient_id, body, write=True)
    request = StageRequest(kind=kind, stage_id=rid, requested_by=user.user_id, payload=payload,
                           inference_task_queue=services.inference_task_queue if kind == "imaging" else None)
    try:
        status = await start_stage(services, journey_id, request)
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None
    text = (f"accepted: {rt.name}/{rid} is ordered; the journey's {kind} stage ({status.workflow_id}, "
            f"{status.status}) records it, and it can be read once recorded")
    return Accepted(rt.name, rid, outcome(text, severity="information", code="informational"))

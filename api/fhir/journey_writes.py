"""Creates and updates that a patient's journey carries out, for the types that declare them
(``ResourceType.journey_create`` / ``journey_update``): an Encounter create admits, a
MedicationAdministration records a dose on the eMAR task, a DiagnosticReport completes the report
task, an order's status change cancels it, a payment settles an invoice…

The framework part is the same for all of them and the same as for stored writes: the body is
validated with ``fhir.resources``, the caller must be able to read what they update, ``If-Match``
is checked against the current version (412), and the ``create``/``update`` decision is made and
recorded in the ledger before the journey is asked. The type's function then applies the
journey's own rules (a 409 when the journey is not in a state to take it, a 422 naming the
element it cannot take) and answers either with the stored resource (201/200) or, when the
journey records it later, ``Accepted`` (202 with ``Content-Location``).

Like ``orders``, these writes run outside one database transaction (the journey is the unit of
consistency), so they are refused inside a ``transaction`` Bundle and allowed in a ``batch``.
"""
from __future__ import annotations

import uuid
from typing import Any

from api.auth import Principal
from api.fhir import guard
from api.fhir import registry as reg
from api.fhir.errors import FhirError
from api.fhir.interactions import policy_extra, read
from api.fhir.registry import Accepted, ResourceType, WriteContext, Written
from api.fhir.versions import finish, matches_if_match, validate
from api.services import ApiServices


def handles_create(rt: ResourceType) -> bool:
    return rt.journey_create is not None and rt.create is None


def handles_update(rt: ResourceType) -> bool:
    return rt.journey_update is not None and rt.update is None


async def create(services: ApiServices, user: Principal, rt: ResourceType, body: Any) -> Written:
    assert rt.journey_create is not None
    body = validate(rt, body)
    ctx = WriteContext(user.user_id, services.index_key, services.field_cipher)
    body = {**body, "id": rt.new_id(body, ctx) if rt.new_id else str(uuid.uuid4())}
    await guard.check(services, user, rt, "create", patient_id=reg.patient_of(rt, body), resource_id=body["id"],
                      security=reg.labels_of(body), extra=await policy_extra(services, rt, body))
    return _served(await rt.journey_create(services, user, rt, body))


async def update(services: ApiServices, user: Principal, rt: ResourceType, rid: str, body: Any,
                 if_match: str | None) -> Written:
    assert rt.journey_update is not None
    body = validate(rt, body)
    if body.get("id") != rid:
        raise FhirError(400, f"the body's id ({body.get('id')!r}) must equal the id in the URL ({rid!r})")
    current = await read(services, user, rt.name, rid)  # 404, and the caller must be able to read it
    if not matches_if_match(if_match, current):
        raise FhirError(412, f"If-Match {if_match} is not the current version of {rt.name}/{rid}")
    labels = sorted(set(reg.labels_of(current)) | set(reg.labels_of(body)))
    await guard.check(services, user, rt, "update", patient_id=reg.patient_of(rt, current), resource_id=rid,
                      security=labels, extra=await policy_extra(services, rt, current))
    return _served(await rt.journey_update(services, user, rt, rid, body, current))


def _served(written: Written) -> Written:
    """A stored resource ready to serve (``meta.versionId`` set, policy extras dropped)."""
    if isinstance(written, Accepted):
        return written
    resource, created = written
    return finish(dict(resource))[0], created

"""Authentication and authorization of FHIR interactions, through the same spine as the task API.

Every interaction is decided by the policy and written to the audit ledger by
``api.access.authorize`` with the patient's context (ward, care team, consent) and the
resource's ``meta.security`` labels, so a PSY-labelled Observation is refused exactly where
a PSY-labelled note is. Refusals come back as ``FhirError`` (rendered as OperationOutcome).
"""
from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.access import Granted, authorize, authorize_alike
from api.auth import Principal
from api.deps import _bearer, get_principal
from api.fhir.errors import FhirError
from api.fhir.registry import ResourceType
from api.routes.resources import patient_resource
from api.services import ApiServices


async def principal_of(request: Request, services: ApiServices) -> Principal:
    """The caller, or a 401 OperationOutcome."""
    try:
        return await get_principal(services, await _bearer(request))
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None


async def _policy_resource(services: ApiServices, rt: ResourceType, patient_id: str | None, resource_id: str | None,
                           security: list[str] | None, extra: dict[str, Any] | None) -> dict[str, Any]:
    if patient_id is not None:
        return await run_in_threadpool(patient_resource, services, rt.policy_type, patient_id, resource_id,
                                       security=list(security or []), **(extra or {}))
    return {"type": rt.policy_type, "id": resource_id, "security": list(security or []), **(extra or {})}


async def check_alike(services: ApiServices, principal: Principal, rt: ResourceType, action: str, *,
                      patient_id: str | None, security: list[str], resource_ids: list[str]) -> None:
    """One decision for resources alike but for their ids (same type, patient, labels), and one ledger
    entry per resource, appended together: a transaction's writes are each on the audit trail."""
    resource = await _policy_resource(services, rt, patient_id, resource_ids[0], security, None)
    try:
        await authorize_alike(services, principal, action=action, resource=resource,
                              subtype=f"fhir.{rt.name}.{action}", resource_ids=resource_ids)
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None


async def check(services: ApiServices, principal: Principal, rt: ResourceType, action: str, *,
                patient_id: str | None, resource_id: str | None = None, security: list[str] | None = None,
                extra: dict[str, Any] | None = None) -> Granted:
    """Decide and record one access to ``rt`` (for ``patient_id``); 403/503 as ``FhirError``."""
    policy_resource = await _policy_resource(services, rt, patient_id, resource_id, security, extra)
    try:
        return await authorize(services, principal, action=action, resource=policy_resource,
                               subtype=f"fhir.{rt.name}.{action}")
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None


async def allowed(services: ApiServices, principal: Principal, rt: ResourceType, action: str, *,
                  patient_id: str | None, security: list[str], resource_id: str | None = None,
                  extra: dict[str, Any] | None = None) -> bool:
    """Like ``check`` but answers False on a policy refusal (search filters, includes)."""
    try:
        await check(services, principal, rt, action, patient_id=patient_id, resource_id=resource_id,
                    security=security, extra=extra)
    except FhirError as exc:
        if exc.status == 403:
            return False
        raise
    return True

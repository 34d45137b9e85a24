"""The FHIR R4 REST routes at ``/fhir/r4``: thin — authenticate, hand to ``interactions``, render.

Every refusal is an ``OperationOutcome`` with its status (400, 401, 403, 404, 405, 406, 409,
410, 412, 415, 422). ``AuditEvent`` is served by ``api.routes.fhir_audit`` (registered first).
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Services
from api.fhir import bundles, interactions, journey_writes, orders
from api.fhir.capability import capability_statement
from api.fhir.errors import FhirError, error_response, fhir_response
from api.fhir.guard import principal_of
from api.fhir.negotiation import check_accept, read_body
from api.fhir.registry import Accepted, Written
from api.fhir.versions import etag

BASE = "/fhir/r4"
router = APIRouter(prefix=BASE, tags=["fhir"])
log = logging.getLogger(__name__)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + BASE


def fhir_route(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Render every ``FhirError`` as an OperationOutcome and check ``Accept`` first."""

    @wraps(handler)
    async def wrapped(*args: Any, **kwargs: Any) -> Response:
        request: Request = kwargs["request"]
        try:
            check_accept(request)
            return await handler(*args, **kwargs)
        except FhirError as exc:
            return error_response(exc)
        except RecursionError:
            return error_response(FhirError(400, "the body is nested too deeply"))

    return wrapped


def _journey_written(request: Request, rtype: str, written: Written, created_status: int) -> Response:
    """A journey write's answer: 202 with Content-Location, or the stored resource."""
    if isinstance(written, Accepted):
        return fhir_response(written.outcome, 202, {"Content-Location": f"{base_url(request)}/{rtype}/{written.id}"})
    resource, created = written
    return _written(request, rtype, resource, created_status if created else 200)


def _written(request: Request, rtype: str, resource: dict[str, Any], status: int) -> Response:
    location = f"{base_url(request)}/{rtype}/{resource['id']}/_history/{resource['meta']['versionId']}"
    return fhir_response(resource, status, {"Location": location, "ETag": etag(resource)})


@router.get("/metadata")
@fhir_route
async def metadata(request: Request) -> Response:
    """The CapabilityStatement, generated from the registry (no authentication, as FHIR expects)."""
    return fhir_response(capability_statement(base_url(request)))


@router.post("")
@router.post("/", include_in_schema=False)
@fhir_route
async def post_bundle(request: Request, services: Services) -> Response:
    """A ``transaction`` (all or nothing) or ``batch`` Bundle posted at the base."""
    user = await principal_of(request, services)
    body = await read_body(request)
    return fhir_response(await bundles.process(services, user, body, base_url(request)))


@router.get("/Patient/{patient_id}/$everything")
@fhir_route
async def patient_everything(patient_id: str, request: Request, services: Services) -> Response:
    """Everything of one patient the caller may see, as a searchset Bundle."""
    user = await principal_of(request, services)
    found = await interactions.everything(services, user, patient_id)
    return fhir_response(bundles.searchset(base_url(request), str(request.url), found, [], None, None))


@router.get("/{rtype}")
@fhir_route
async def search_type(rtype: str, request: Request, services: Services) -> Response:
    """``GET [base]/[type]?params``: a searchset Bundle with self/next/previous links."""
    user = await principal_of(request, services)
    rt = interactions.resource_type(rtype)
    q = interactions.parse(rt, list(request.query_params.multi_items()))
    matches, included, more = await interactions.search(services, user, rt, q)
    nxt = str(request.url.include_query_params(_offset=q.offset + q.count, _count=q.count)) if more else None
    prev = str(request.url.include_query_params(_offset=max(0, q.offset - q.count), _count=q.count)) \
        if q.offset > 0 else None
    return fhir_response(bundles.searchset(base_url(request), str(request.url), matches, included, nxt, prev))


@router.post("/{rtype}")
@fhir_route
async def create(rtype: str, request: Request, services: Services) -> Response:
    """``POST [base]/[type]``: 201 with Location and ETag (200 when an identical create was already stored)."""
    user = await principal_of(request, services)
    rt = interactions.resource_type(rtype)
    body = await read_body(request)
    if rt.stage is not None:  # the journey's stage records it: 202, readable at Content-Location later
        accepted = await orders.submit(services, user, rt, body)
        return fhir_response(accepted.outcome, 202, {"Content-Location": f"{base_url(request)}/{rtype}/{accepted.id}"})
    if journey_writes.handles_create(rt):
        return _journey_written(request, rtype, await journey_writes.create(services, user, rt, body), 201)
    resource, created = await interactions.create(services, user, rtype, body)
    return _written(request, rtype, resource, 201 if created else 200)


@router.get("/{rtype}/{rid}")
@fhir_route
async def read(rtype: str, rid: str, request: Request, services: Services) -> Response:
    user = await principal_of(request, services)
    resource = await interactions.read(services, user, rtype, rid)
    return fhir_response(resource, 200, {"ETag": etag(resource)})


@router.put("/{rtype}/{rid}")
@fhir_route
async def update(rtype: str, rid: str, request: Request, services: Services) -> Response:
    """``PUT [base]/[type]/[id]``; ``If-Match`` with a stale version is a 412."""
    user = await principal_of(request, services)
    rt = interactions.resource_type(rtype)
    body = await read_body(request)
    if journey_writes.handles_update(rt):
        written = await journey_writes.update(services, user, rt, rid, body, request.headers.get("if-match"))
        return _journey_written(request, rtype, written, 200)
    resource = await interactions.update(services, user, rtype, rid, body, request.headers.get("if-match"))
    return _written(request, rtype, resource, 200)


@router.api_route("/{rtype}/{rid}", methods=["DELETE", "PATCH"], include_in_schema=False)
@router.api_route("/{rtype}", methods=["DELETE", "PUT", "PATCH"], include_in_schema=False)
@fhir_route
async def unsupported(request: Request) -> Response:
    raise FhirError(405, f"{request.method} is not supported here (see /fhir/r4/metadata)")


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"], include_in_schema=False)
@fhir_route
async def no_such_path(request: Request) -> Response:
    """Anything else under the base is a 404 OperationOutcome, not the task API's error shape."""
    raise FhirError(404, "no FHIR interaction at this path (see /fhir/r4/metadata)")

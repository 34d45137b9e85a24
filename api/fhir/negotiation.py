"""Content negotiation: JSON only, as ``application/fhir+json`` (``application/json`` accepted)."""
from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from api.fhir.errors import FhirError

ACCEPTED_BODIES = ("application/fhir+json", "application/json")
_ACCEPTABLE = ("application/fhir+json", "application/json", "application/*", "*/*", "application/json+fhir")
MAX_BODY = 8 * 1024 * 1024


def check_accept(request: Request) -> None:
    """406 when the client accepts no JSON (``Accept`` or ``_format``)."""
    accept = request.headers.get("accept")
    if accept:
        types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
        if not any(t in _ACCEPTABLE for t in types):
            raise FhirError(406, f"only application/fhir+json is served (Accept: {accept[:100]})")


async def read_body(request: Request) -> Any:
    """The JSON body of a write: 415 for another content type, 400 for invalid or oversized JSON."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype not in ACCEPTED_BODIES:
        raise FhirError(415, f"send application/fhir+json or application/json, not {ctype or 'no content type'!r}")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise FhirError(413, "the body is too large")
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise FhirError(400, "the body is not valid JSON") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

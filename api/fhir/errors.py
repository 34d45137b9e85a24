"""FHIR errors: one exception carrying an HTTP status, rendered as an ``OperationOutcome``."""
from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response

FHIR_JSON = "application/fhir+json"

#: OperationOutcome issue codes by HTTP status.
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 410: "deleted", 412: "conflict", 415: "not-supported",
               422: "processing", 503: "transient"}


class FhirError(Exception):
    """An interaction refused with ``status``; ``diagnostics`` says why (never patient content)."""

    def __init__(self, status: int, diagnostics: str, *, code: str | None = None,
                 expression: list[str] | None = None) -> None:
        super().__init__(diagnostics)
        self.status, self.diagnostics = status, diagnostics
        self.code = code or ISSUE_CODES.get(status, "exception")
        self.expression = expression or []

    def outcome(self) -> dict[str, Any]:
        return outcome(self.diagnostics, code=self.code, expression=self.expression)


def outcome(diagnostics: str, *, severity: str = "error", code: str = "processing",
            expression: list[str] | None = None) -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics[:2000]}
    if expression:
        issue["expression"] = expression[:20]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A FHIR JSON response (``application/fhir+json``)."""
    return Response(json.dumps(body, separators=(",", ":"), default=str), status_code=status,
                    media_type=FHIR_JSON, headers=headers)


def error_response(exc: FhirError) -> Response:
    return fhir_response(exc.outcome(), exc.status)


def validation_error(exc: Exception, prefix: str = "") -> FhirError:
    """A pydantic ``ValidationError`` from ``fhir.resources`` as a 422 naming the offending elements."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return FhirError(422, f"{prefix}{exc}")
    found = errors()
    paths = [".".join(str(p) for p in e.get("loc", ())) for e in found][:20]
    text = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())) or 'resource'}: {e.get('msg')}" for e in found[:10])
    return FhirError(422, f"{prefix}{text}", code="structure", expression=[p for p in paths if p])

"""Checks shared by the writes the journeys carry out over FHIR (``medication_writes``, ``order_updates``).

A journey's record changes only the way its journey changes it (an order is cancelled, an eMAR entry
is marked entered-in-error), so an update must equal the record as read but for the elements that
change; everything else is a 422 naming the element. Reasons are free text: they are passed to the
journey (which seals them at rest), never logged.
"""
from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from temporalio.client import Client

from api.auth import Principal
from api.fhir.errors import FhirError
from api.services import ApiServices

#: Elements a client may send differently without changing the record (the server sets them).
SERVER_SET = frozenset({"resourceType", "id", "meta", "text"})
MAX_REASON = 500


def unchanged_but(rtype: str, body: dict[str, Any], current: dict[str, Any], changing: set[str], why: str) -> None:
    """Refuse (422 naming the element) any element of ``body`` that differs from ``current``, but ``changing``."""
    for key in sorted((set(body) | set(current)) - SERVER_SET - changing):
        if body.get(key) != current.get(key):
            raise FhirError(422, f"{rtype}.{key} cannot change: {why}", expression=[f"{rtype}.{key}"])


def reason_of(concepts: Any) -> str | None:
    """The text of a ``statusReason`` (a CodeableConcept or a list of them): its text, else a coding's display
    or code."""
    concept = concepts[0] if isinstance(concepts, list) and concepts else concepts
    if not isinstance(concept, dict):
        return None
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        value = coding.get("display") or coding.get("code") if isinstance(coding, dict) else None
        if isinstance(value, str) and value.strip():
            return value
    return None


def required_reason(rtype: str, concepts: Any, what: str) -> str:
    """The reason a change needs: 1 to 500 characters of ``statusReason`` (422 naming it otherwise)."""
    reason = reason_of(concepts)
    if reason is None or len(reason) > MAX_REASON:
        raise FhirError(422, f"{rtype}.statusReason: {what} needs a reason (text of 1 to {MAX_REASON} characters)",
                        expression=[f"{rtype}.statusReason"])
    return reason


def only_attending(user: Principal, what: str) -> None:
    """The task API's rule for cancelling orders: the attending physician does it (the policy decided the rest)."""
    if user.role != "attending_physician":
        raise FhirError(403, f"only the attending physician cancels {what}")


def engine(services: ApiServices) -> Client:
    """The workflow engine, or a 503 to retry later."""
    if services.temporal is None:
        raise FhirError(503, "the workflow engine is not reachable; try again")
    return services.temporal


def refused(exc: HTTPException) -> FhirError:
    """A journey's refusal (mapped to HTTP by ``api.updates.run_update``) as an OperationOutcome."""
    return FhirError(exc.status_code, str(exc.detail))

"""Helpers shared by resource modules: timestamps, references, string and token matching."""
from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from activities.storage.models import Patient
from api.fhir.errors import FhirError
from api.fhir.params import SearchQuery, reference_id, token_values

USER_SYSTEM = "urn:hms:user"


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ref(rtype: str, rid: str | None) -> dict[str, str] | None:
    return {"reference": f"{rtype}/{rid}"} if rid else None


def user_ref(user_id: str | None) -> dict[str, Any] | None:
    return {"identifier": {"system": USER_SYSTEM, "value": user_id}} if user_id else None


def drop_none(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v is not None and v != []}


def fold(text: str) -> str:
    """Case- and accent-insensitive form for FHIR string search."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def string_match(q: SearchQuery, name: str, candidates: list[str]) -> bool:
    """FHIR string search: every value (ANDed; commas OR) starts a candidate, or :exact / :contains."""
    modifier = q.modifiers.get(name)
    for raw in q.filters.get(name, []):
        options = raw.split(",")
        if not any(_one(modifier, opt, c) for opt in options for c in candidates):
            return False
    return True


def _one(modifier: str | None, wanted: str, candidate: str) -> bool:
    if modifier == "exact":
        return wanted == candidate
    w, c = fold(wanted), fold(candidate)
    if modifier == "contains":
        return w in c
    return c.startswith(w) or any(part.startswith(w) for part in c.split())


def token_match(q: SearchQuery, name: str, tokens: list[str]) -> bool:
    """Every value of the token parameter (ANDed; commas OR) matches one of the resource's tokens."""
    return all(any(t in tokens for t in token_values(raw, name)) for raw in q.filters.get(name, []))


def ref_ids(q: SearchQuery, names: tuple[str, ...], rtype: str) -> list[str] | None:
    """The ids named by reference parameters (ORed); None when none was given."""
    out: list[str] | None = None
    for name in names:
        for raw in q.filters.get(name, []):
            ids = [reference_id(v, rtype, name) for v in raw.split(",")]
            out = ids if out is None else [i for i in out if i in ids]
    return out


def single(values: list[str] | None, name: str) -> str | None:
    """One id for a store query; several ORed ids are filtered later by the caller."""
    if values is None:
        return None
    if not values:
        raise FhirError(400, f"{name}: no value")
    return values[0] if len(values) == 1 else None


def coded(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def ref_of(resource: dict[str, Any], element: str) -> str | None:
    value = (resource.get(element) or {}).get("reference") if isinstance(resource.get(element), dict) else None
    return value.split("/", 1)[1] if isinstance(value, str) and "/" in value else None


def known_patient(session: Session, body: dict[str, Any], rtype: str, element: str = "patient") -> str:
    """The id of the registered Patient ``body.<element>`` references; 422 naming the element otherwise."""
    patient_id = ref_of(body, element)
    if patient_id is None or len(patient_id) > 36 or session.get(Patient, patient_id) is None:
        raise FhirError(422, f"{rtype}.{element} must reference a known Patient", expression=[f"{rtype}.{element}"])
    return patient_id


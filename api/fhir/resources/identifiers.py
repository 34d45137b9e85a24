"""Business identifiers on the FHIR types a create can carry them for (ServiceRequest, MedicationRequest,
DocumentReference, ChargeItem): kept when the create is accepted, served on read and search, searchable.

``served(rt)`` wraps a registered type: its reads and searches carry the stored ``identifier``
elements (``identifiers_repo``, sealed per patient), and it takes the ``identifier`` search
parameter — ``system|value``, ``|value`` (no system) or a bare ``value`` (any system); commas OR,
repeats AND. The blind indexes pick the candidates in the database; each candidate is kept only if
an opened identifier matches, so an erased patient's resources are never found by identifier.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import identifiers_repo
from api.fhir.errors import FhirError
from api.fhir.params import SearchQuery
from api.fhir.registry import Resource, ResourceType

PARAM = "identifier"
#: Identifiers one create may carry, and the longest value kept (the search parameter takes 500).
MAX_IDENTIFIERS, MAX_VALUE = 20, 500


def elements(rtype: str, body: Resource) -> list[dict[str, Any]]:
    """The create's ``identifier`` elements to keep (422 naming the element when they cannot be)."""
    found = body.get("identifier") or []
    where = [f"{rtype}.identifier"]
    if not isinstance(found, list) or len(found) > MAX_IDENTIFIERS:
        raise FhirError(422, f"{rtype}.identifier: at most {MAX_IDENTIFIERS} identifiers", expression=where)
    for element in found:
        if not isinstance(element, dict):
            raise FhirError(422, f"{rtype}.identifier: each identifier is an object", expression=where)
        if len(str(element.get("value") or "")) > MAX_VALUE or len(str(element.get("system") or "")) > MAX_VALUE:
            raise FhirError(422, f"{rtype}.identifier: system and value of at most {MAX_VALUE} characters",
                            expression=where)
    return list(found)


def remember(session: Session, cipher: FieldCipher, rtype: str, resource_id: str, patient_id: str,
             body: Resource) -> bool:
    """Keep the create's identifiers for the resource (idempotent; 409 if they belong to another patient)."""
    try:
        return identifiers_repo.record(session, cipher, resource_type=rtype, resource_id=resource_id,
                                       patient_id=patient_id, identifiers=elements(rtype, body))
    except identifiers_repo.IdentifierConflict:
        raise FhirError(409, f"{rtype}/{resource_id} is stored for another subject") from None


def _tokens(raw: str) -> list[tuple[str | None, str]]:
    """(system or None for any, value) of each comma-separated token."""
    out: list[tuple[str | None, str]] = []
    for part in raw.split(","):
        system, bar, value = part.partition("|")
        if not bar:
            system, value = None, part  # type: ignore[assignment]
        if not value:
            raise FhirError(400, f"{PARAM}: {part!r} names no value (use system|value, |value or value)")
        out.append((system, value))
    return out


def _matches(token: tuple[str | None, str], stored: list[dict[str, Any]]) -> bool:
    system, value = token
    return any(str(e.get("value") or "") == value and (system is None or str(e.get("system") or "") == system)
               for e in stored)


def attach(session: Session, cipher: FieldCipher, rtype: str, resources: list[Resource]) -> None:
    """Put each resource's stored identifiers on it (in place)."""
    stored = identifiers_repo.of_resources(session, cipher, rtype, [r["id"] for r in resources])
    for resource in resources:
        if stored.get(resource["id"]):
            resource["identifier"] = stored[resource["id"]]


def served(rt: ResourceType) -> ResourceType:
    """``rt`` serving and searching its stored identifiers (and declaring the parameter)."""
    assert rt.read is not None and rt.search is not None
    read_row, search_rows = rt.read, rt.search

    def read(session: Session, cipher: FieldCipher, rid: str) -> Resource | None:
        found = read_row(session, cipher, rid)
        if found is not None:
            attach(session, cipher, rt.name, [found])
        return found

    def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
        wanted = [_tokens(raw) for raw in q.filters.get(PARAM, [])]
        if wanted:
            ids: set[str] | None = None
            for tokens in wanted:  # repeated parameters AND, comma-separated tokens OR
                some = set().union(*(identifiers_repo.matching(session, cipher, rt.name, s, v) for s, v in tokens))
                ids = some if ids is None else ids & some
            if not ids:
                return []
            filters = {k: v for k, v in q.filters.items() if k != PARAM}
            filters["_id"] = [*filters.get("_id", []), ",".join(sorted(ids))]
            q = replace(q, filters=filters)
        found = search_rows(session, cipher, q)
        attach(session, cipher, rt.name, found)
        return [r for r in found if all(any(_matches(t, r.get("identifier") or []) for t in tokens)
                                        for tokens in wanted)]

    return replace(rt, read=read, search=search, params={**rt.params, PARAM: "token"})


__all__ = ["MAX_IDENTIFIERS", "PARAM", "attach", "elements", "remember", "served"]

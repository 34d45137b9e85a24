"""A read-only FHIR type over one table: read by primary key, search by patient, encounter, _id, status
and date. The journeys own these records (orders, studies, bills…); the facade serves them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, FieldCipher
from api.fhir.params import SearchQuery, token_values
from api.fhir.registry import Resource, ResourceType, register
from api.fhir.resources.common import ref_ids

ToFhir = Callable[[Session, FieldCipher, Any], Resource]


def read_only(*, name: str, policy_type: str, model: Any, table: Any, to_fhir: ToFhir, date_of: Callable[[Resource], Any],
              patient_element: str = "subject", encounter_col: str | None = "encounter_id",
              status_col: str | None = "status", date_col: str | None = None, documentation: str,
              extra_params: dict[str, str] | None = None,
              extra_filter: Callable[[SearchQuery, Resource], bool] | None = None) -> ResourceType:
    """Register a read/search-only type over ``table`` (rows carry ``id`` and ``patient_id``)."""
    pk_len = table.__table__.c.id.type.length or 200

    def read(session: Session, cipher: FieldCipher, rid: str) -> Resource | None:
        row = session.get(table, rid) if len(rid) <= pk_len else None
        return None if row is None else to_fhir(session, cipher, row)

    def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
        stmt = sa.select(table).limit(10_000)
        if date_col:
            stmt = stmt.order_by(getattr(table, date_col).desc(), table.id)
        patients = ref_ids(q, ("patient", "subject"), "Patient")
        if patients is not None:
            stmt = stmt.where(table.patient_id.in_(patients))
        encounters = ref_ids(q, ("encounter",), "Encounter")
        if encounters is not None and encounter_col:
            stmt = stmt.where(getattr(table, encounter_col).in_(encounters))
        for raw in q.filters.get("_id", []):
            stmt = stmt.where(table.id.in_(raw.split(",")))
        out = []
        for row in session.scalars(stmt):
            try:
                out.append(to_fhir(session, cipher, row))
            except DataErased:  # an erased patient's sealed fields are gone: their rows leave searches
                continue
        for raw in q.filters.get("status", []):
            wanted = token_values(raw, "status")
            out = [r for r in out if r.get("status") in wanted]
        dates = q.dates("date")
        if dates is not None:
            from activities.storage.observations_repo import parse_instant
            out = [r for r in out if date_of(r) and dates.matches(parse_instant(str(date_of(r))))]
        if extra_filter is not None:
            out = [r for r in out if extra_filter(q, r)]
        return out

    params = {"_id": "token", "patient": "reference", "subject": "reference", "date": "date"}
    if encounter_col:
        params["encounter"] = "reference"
    if status_col:
        params["status"] = "token"
    params.update(extra_params or {})
    includes = {"patient": patient_element, "subject": patient_element}
    if encounter_col:
        includes["encounter"] = "encounter"
    return register(ResourceType(
        name=name, policy_type=policy_type, model=model, read=read, search=search, params=params,
        sorts={"_id": lambda r: r["id"], "date": date_of, "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
        includes=includes, patient_element=patient_element, documentation=documentation))

"""Observation over ``activities.storage.observations_repo`` (results encrypted per patient) plus the
triage vitals, served read-only as category ``vital-signs`` (ids ``vs-…``).

A create with an identifier is idempotent (a resent lab result answers 200 with the stored one).
Journeys have no signal for results yet, so a posted result is stored and visible to the care
team (and the events stream) but does not advance a journey stage.
"""
from __future__ import annotations

import uuid

from fhir.resources.R4B.observation import Observation as FhirObservation
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import observations_repo as obs_repo
from api.fhir.errors import FhirError
from api.fhir.params import SearchQuery, token_values
from api.fhir.registry import Resource, ResourceType, WriteContext, register
from api.fhir.resources.common import ref_ids, token_match


def read(session: Session, cipher: FieldCipher, oid: str) -> Resource | None:
    return obs_repo.get_observation(session, cipher, oid)


def new_id(body: Resource, ctx: WriteContext) -> str:
    index = obs_repo.identifier_index(ctx.cipher, body) if ctx.cipher is not None else None
    return str(uuid.UUID(bytes=index[:16], version=4)) if index is not None else str(uuid.uuid4())


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    try:
        found, created = obs_repo.store_observation(session, cipher, body, recorded_by=ctx.user_id)
    except obs_repo.InvalidObservation as exc:
        raise FhirError(422, str(exc)) from None
    if not created and found.get("subject") != body.get("subject"):
        raise FhirError(409, "an Observation with this identifier is stored for another subject")
    return found, created


def update(session: Session, cipher: FieldCipher, oid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    try:
        return obs_repo.update_observation(session, cipher, oid, body)
    except obs_repo.ReadOnlyObservation as exc:
        raise FhirError(405, str(exc)) from None
    except obs_repo.InvalidObservation as exc:
        raise FhirError(422, str(exc)) from None


def _one_token(q: SearchQuery, name: str) -> str | None:
    values = q.filters.get(name, [])
    tokens = token_values(values[0], name) if len(values) == 1 else []
    return tokens[0] if len(tokens) == 1 else None


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    patients = ref_ids(q, ("patient", "subject"), "Patient")
    encounters = ref_ids(q, ("encounter",), "Encounter")
    ids = [v for raw in q.filters.get("_id", []) for v in raw.split(",")] or None
    dates = q.dates("date")
    out: list[Resource] = []
    for patient_id in patients if patients is not None else [None]:
        for encounter_id in encounters if encounters is not None else [None]:
            out += obs_repo.search_observations(
                session, cipher, patient_id=patient_id, encounter_id=encounter_id,
                category=_one_token(q, "category"), code=_one_token(q, "code"), status=_one_token(q, "status"),
                since=dates.since if dates else None, until=dates.until if dates else None, ids=ids,
                limit=10_000)
    return [r for r in out if _matches(q, r, dates)]


def _matches(q: SearchQuery, r: Resource, dates: object) -> bool:
    components = [c.get("code") or {} for c in r.get("component") or []]
    if not token_match(q, "code", obs_repo.tokens([r.get("code") or {}, *components])):
        return False
    if not token_match(q, "category", obs_repo.tokens(r.get("category") or [])):
        return False
    if not token_match(q, "status", [r.get("status", "")]):
        return False
    if dates is not None:
        effective = _effective(r)
        return effective is not None and dates.matches(effective)  # type: ignore[attr-defined]
    return True


def _effective(r: Resource):  # noqa: ANN202
    raw = r.get("effectiveDateTime") or r.get("effectiveInstant") or (r.get("effectivePeriod") or {}).get("start") \
        or r.get("issued")
    try:
        return obs_repo.parse_instant(raw) if raw else None
    except ValueError:
        return None


register(ResourceType(
    name="Observation", policy_type="Observation", model=FhirObservation, read=read, search=search, create=create,
    update=update, new_id=new_id, write_rank=5, stores_labels=True,
    params={"_id": "token", "patient": "reference", "subject": "reference", "encounter": "reference",
            "category": "token", "code": "token", "status": "token", "date": "date"},
    sorts={"_id": lambda r: r["id"], "date": lambda r: r.get("effectiveDateTime") or r.get("issued"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    includes={"patient": "subject", "subject": "subject", "encounter": "encounter"},
    documentation="Results and measurements, encrypted per patient; a create with an identifier is idempotent. "
                  "Triage vital signs are served read-only as category vital-signs (ids vs-…). A result does "
                  "not (yet) signal the patient's journey.",
))

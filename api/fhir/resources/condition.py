"""Condition, read-only: the reason each stay was opened for (``encounter-diagnosis``), from
``hms.encounters`` — the one place the hospital records it today. Ids are ``enc-<encounter id>``.
There is no problem-list store yet, so there is no create or update."""
from __future__ import annotations

import sqlalchemy as sa
from fhir.resources.R4B.condition import Condition as FhirCondition
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import repository as repo
from activities.storage.models import ACTIVE_ENCOUNTER_STATES, Encounter
from api.fhir.params import SearchQuery
from api.fhir.registry import Resource, ResourceType, register
from api.fhir.resources.common import coded, drop_none, iso, ref, ref_ids, token_match, user_ref

PREFIX = "enc-"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"


def to_fhir(e: Encounter, reason: str) -> Resource:
    active = e.status in ACTIVE_ENCOUNTER_STATES
    return drop_none({
        "resourceType": "Condition", "id": f"{PREFIX}{e.id}", "meta": {"lastUpdated": iso(e.ended_at or e.created_at)},
        "clinicalStatus": coded(CLINICAL, "active" if active else "resolved"),
        "category": [coded(CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")],
        "code": {"text": reason}, "subject": ref("Patient", e.patient_id), "encounter": ref("Encounter", e.id),
        "recordedDate": iso(e.created_at), "asserter": user_ref(e.attending_id) if e.attending_id else None,
        "abatementDateTime": None if active else iso(e.ended_at),
    })


def read(session: Session, cipher: FieldCipher, cid: str) -> Resource | None:
    eid = cid[len(PREFIX):] if cid.startswith(PREFIX) else None
    e = session.get(Encounter, eid) if eid and len(eid) <= 36 else None
    return None if e is None else to_fhir(e, repo.encounter_reason(session, cipher, e))


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    stmt = sa.select(Encounter).order_by(Encounter.created_at.desc(), Encounter.id).limit(10_000)
    patients = ref_ids(q, ("patient", "subject"), "Patient")
    if patients is not None:
        stmt = stmt.where(Encounter.patient_id.in_(patients))
    encounters = ref_ids(q, ("encounter",), "Encounter")
    if encounters is not None:
        stmt = stmt.where(Encounter.id.in_(encounters))
    found = list(session.scalars(stmt))
    reasons = repo.encounter_reasons(session, cipher, found)  # an erased patient's stays are left out
    out = [to_fhir(e, reasons[e.id]) for e in found if e.id in reasons]
    return [r for r in out if token_match(q, "clinical-status", [r["clinicalStatus"]["coding"][0]["code"]])
            and token_match(q, "_id", [r["id"]])]


register(ResourceType(
    name="Condition", policy_type="Condition", model=FhirCondition, read=read, search=search,
    params={"_id": "token", "patient": "reference", "subject": "reference", "encounter": "reference",
            "clinical-status": "token"},
    sorts={"_id": lambda r: r["id"], "date": lambda r: r.get("recordedDate"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    includes={"patient": "subject", "subject": "subject", "encounter": "encounter"},
    documentation="Read-only: the admission reason of each stay (category encounter-diagnosis, id enc-<encounter>); "
                  "no problem-list store exists yet.",
))

"""Encounter over ``hms.encounters``. Stays are opened, moved and closed by the patient's journey, so
writes go through it: a create is an admission (``encounter_writes``: the same journey as
``POST /api/v1/admissions``, answered 202), and an update takes only what maps to the journey's
actions (``encounter_updates``: the stated reason; discharge is refused with the route to use)."""
from __future__ import annotations

import sqlalchemy as sa
from fhir.resources.R4B.encounter import Encounter as FhirEncounter
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import repository as repo
from activities.storage.models import Encounter
from api.fhir.params import SearchQuery, token_values
from api.fhir.registry import Resource, ResourceType, register
from api.fhir.resources import encounter_updates, encounter_writes
from api.fhir.resources.common import coded, drop_none, iso, ref, ref_ids, user_ref
from api.fhir.resources.encounter_writes import ACT_CODE, WARD_SYSTEM

JOURNEY_SYSTEM = "urn:hms:journey"


def to_fhir(e: Encounter, reason: str, bed: str | None = None) -> Resource:
    location = [{"location": {"identifier": {"system": WARD_SYSTEM, "value": e.ward_id}, "display": e.ward_id},
                 "status": "active" if e.status == "in-progress" else "completed"}]
    if bed:
        location.append({"location": {"identifier": {"system": "urn:hms:bed", "value": bed}, "display": bed}})
    participant = [{"individual": user_ref(e.attending_id),
                    "type": [coded("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "ATND",
                                   "attender")]}] if e.attending_id else []
    return drop_none({
        "resourceType": "Encounter", "id": e.id, "meta": {"lastUpdated": iso(e.ended_at or e.admitted_at
                                                                            or e.created_at)},
        "identifier": [{"system": JOURNEY_SYSTEM, "value": e.journey_id}],
        "status": e.status, "class": {"system": ACT_CODE, "code": e.encounter_class},
        "subject": ref("Patient", e.patient_id),
        "period": drop_none({"start": iso(e.admitted_at or e.created_at), "end": iso(e.ended_at)}),
        "reasonCode": [{"text": reason}] if reason else [],
        "participant": participant, "location": location,
        "serviceProvider": None,
    })


def read(session: Session, cipher: FieldCipher, eid: str) -> Resource | None:
    e = session.get(Encounter, eid) if len(eid) <= 36 else None
    return None if e is None else to_fhir(e, repo.encounter_reason(session, cipher, e), repo.bed_of(session, e.id))


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    stmt = sa.select(Encounter).order_by(Encounter.created_at.desc(), Encounter.id).limit(10_000)
    patients = ref_ids(q, ("patient", "subject"), "Patient")
    if patients is not None:
        stmt = stmt.where(Encounter.patient_id.in_(patients))
    for raw in q.filters.get("_id", []):
        stmt = stmt.where(Encounter.id.in_(raw.split(",")))
    for raw in q.filters.get("status", []):
        stmt = stmt.where(Encounter.status.in_(token_values(raw, "status")))
    for raw in q.filters.get("identifier", []):
        values = [t.partition("|")[2] if "|" in t else t for t in token_values(raw, "identifier")]
        stmt = stmt.where(Encounter.journey_id.in_(values))
    dates = q.dates("date")
    found = [e for e in session.scalars(stmt)
             if dates is None or dates.matches(e.admitted_at or e.created_at)]
    reasons = repo.encounter_reasons(session, cipher, found)  # an erased patient's stays are left out
    return [to_fhir(e, reasons[e.id]) for e in found if e.id in reasons]


register(ResourceType(
    name="Encounter", policy_type="Encounter", model=FhirEncounter, read=read, search=search,
    journey_create=encounter_writes.admit, journey_update=encounter_updates.update, new_id=encounter_writes.new_id,
    params={"_id": "token", "patient": "reference", "subject": "reference", "status": "token", "date": "date",
            "identifier": "token"},
    sorts={"_id": lambda r: r["id"], "date": lambda r: r.get("period", {}).get("start"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    includes={"patient": "subject", "subject": "subject"},
    documentation="Stays, owned by the patient's journey (Encounter.identifier urn:hms:journey). Create admits: "
                  "subject a registered Patient, class IMP, one location with identifier urn:hms:ward, reasonCode "
                  "text, optional ATND participant (urn:hms:user); it starts the journey of POST /api/v1/admissions "
                  "and answers 202 with Content-Location (a repeat with the same identifier starts nothing new; a "
                  "stay in progress is a 409). Update changes only reasonCode text of a stay in progress; status "
                  "finished is refused (409: discharge through the journey), ward, attending, class, period and "
                  "subject are refused (422). Not inside transaction Bundles.",
))

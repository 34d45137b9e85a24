"""AllergyIntolerance over the pharmacy's ``hms.allergy_intolerances`` (what order checks read).

The substance is an RxNorm ingredient code, or a formulary drug class (system ``urn:hms:drug-class``).
An update corrects a record in place (code, criticality, reaction, and clinicalStatus: ``inactive`` or
``resolved`` takes it out of the order checks); the patient it belongs to never changes.
"""
from __future__ import annotations

import sqlalchemy as sa
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance as FhirAllergy
from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, FieldCipher
from activities.storage import allergy_updates, pharmacy, pharmacy_text
from activities.storage.models_pharmacy import AllergyIntolerance
from api.fhir.errors import FhirError
from api.fhir.params import SearchQuery
from api.fhir.registry import Resource, ResourceType, WriteContext, register
from api.fhir.resources.common import (
    coded,
    drop_none,
    iso,
    known_patient,
    ref,
    ref_ids,
    ref_of,
    token_match,
    user_ref,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DRUG_CLASS = "urn:hms:drug-class"
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
CRITICALITY = ("low", "high", "unable-to-assess")


def to_fhir(a: AllergyIntolerance, reaction: str | None) -> Resource:
    return drop_none({
        "resourceType": "AllergyIntolerance", "id": a.id, "meta": {"lastUpdated": iso(a.recorded_at)},
        "clinicalStatus": coded(CLINICAL, "active" if a.status == "active" else "inactive"),
        "verificationStatus": coded(VERIFICATION, "confirmed"),
        "type": "allergy", "category": ["medication"], "criticality": a.criticality,
        "code": coded(DRUG_CLASS if a.is_class else RXNORM, a.code),
        "patient": ref("Patient", a.patient_id), "recordedDate": iso(a.recorded_at),
        "recorder": user_ref(a.recorded_by),
        "reaction": [{"manifestation": [{"text": reaction}]}] if reaction else [],
    })


def read(session: Session, cipher: FieldCipher, aid: str) -> Resource | None:
    a = session.get(AllergyIntolerance, aid) if len(aid) <= 60 else None
    return None if a is None else to_fhir(a, pharmacy_text.allergy_reaction(session, cipher, a))


def _fields(body: Resource) -> dict:
    """The stored columns a body asks for (422 naming the element when one is unusable)."""
    codings = (body.get("code") or {}).get("coding") or []
    coding = next((c for c in codings if c.get("system") in (RXNORM, DRUG_CLASS) and c.get("code")), None)
    if coding is None or len(str(coding["code"])) > 60:
        raise FhirError(422, f"AllergyIntolerance.code needs a coding from {RXNORM} or {DRUG_CLASS}",
                        expression=["AllergyIntolerance.code"])
    criticality = body.get("criticality") or "unable-to-assess"
    if criticality not in CRITICALITY:
        raise FhirError(422, "AllergyIntolerance.criticality is not low, high or unable-to-assess")
    clinical = [c.get("code") for c in (body.get("clinicalStatus") or {}).get("coding") or []
                if c.get("system") in (CLINICAL, None)]
    if clinical and clinical[0] not in ("active", "inactive", "resolved"):
        raise FhirError(422, "AllergyIntolerance.clinicalStatus is not active, inactive or resolved",
                        expression=["AllergyIntolerance.clinicalStatus"])
    reactions = [m.get("text") or ((m.get("coding") or [{}])[0].get("display"))
                 for r in body.get("reaction") or [] for m in r.get("manifestation") or []]
    return {"code": str(coding["code"]), "is_class": coding["system"] == DRUG_CLASS, "criticality": criticality,
            "reaction": next((str(r)[:60] for r in reactions if r), None),
            "status": "active" if not clinical or clinical[0] == "active" else "inactive"}


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    patient_id = known_patient(session, body, "AllergyIntolerance")
    fields = {**_fields(body), "status": "active"}
    created = pharmacy.add_allergy(session, {"id": body["id"], "patient_id": patient_id, **fields,
                                             "recorded_by": ctx.user_id}, cipher)
    stored = read(session, cipher, body["id"])
    assert stored is not None
    return stored, created


def update(session: Session, cipher: FieldCipher, aid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """Correct the record; the patient is the one it was recorded for (422 otherwise)."""
    row = session.get(AllergyIntolerance, aid) if len(aid) <= 60 else None
    if row is None:
        return None
    if ref_of(body, "patient") != row.patient_id:
        raise FhirError(422, "an update may not change AllergyIntolerance.patient",
                        expression=["AllergyIntolerance.patient"])
    allergy_updates.update_allergy(session, cipher, aid, _fields(body))
    return read(session, cipher, aid)


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    stmt = sa.select(AllergyIntolerance).order_by(AllergyIntolerance.recorded_at.desc()).limit(10_000)
    patients = ref_ids(q, ("patient",), "Patient")
    if patients is not None:
        stmt = stmt.where(AllergyIntolerance.patient_id.in_(patients))
    for raw in q.filters.get("_id", []):
        stmt = stmt.where(AllergyIntolerance.id.in_(raw.split(",")))
    out = []
    for a in session.scalars(stmt):
        try:
            out.append(to_fhir(a, pharmacy_text.allergy_reaction(session, cipher, a)))
        except DataErased:  # an erased patient's allergies leave searches with their key
            continue
    return [r for r in out if token_match(q, "code", [f"{c['system']}|{c['code']}" for c in r["code"]["coding"]]
                                          + [c["code"] for c in r["code"]["coding"]])
            and token_match(q, "clinical-status", [r["clinicalStatus"]["coding"][0]["code"]])]


register(ResourceType(
    name="AllergyIntolerance", policy_type="AllergyIntolerance", model=FhirAllergy, read=read, search=search,
    create=create, update=update, patient_element="patient", write_rank=2,
    params={"_id": "token", "patient": "reference", "code": "token", "clinical-status": "token"},
    sorts={"_id": lambda r: r["id"], "date": lambda r: r.get("recordedDate"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    includes={"patient": "patient"},
    documentation="Medication allergies the pharmacy checks orders against (RxNorm ingredient or urn:hms:drug-class); "
                  "update corrects a record (clinicalStatus inactive or resolved takes it out of the order checks).",
))

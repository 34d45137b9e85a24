"""Consent over ``hms.consents``: the append-only history of a patient's consent per purpose of use.

Each record is one Consent (``provision.purpose`` names the purpose: TREAT, HRESCH, HMARKT).
A create appends a record: ``active`` grants, ``rejected`` refuses, ``inactive`` withdraws an
active consent (409 when there is none). Records are never rewritten, so there is no update.
"""
from __future__ import annotations

import sqlalchemy as sa
from fhir.resources.R4B.consent import Consent as FhirConsent
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import consent_repo
from activities.storage.models import Consent
from api.fhir.errors import FhirError
from api.fhir.params import SearchQuery, token_values
from api.fhir.registry import Resource, ResourceType, WriteContext, register
from api.fhir.resources.common import coded, iso, known_patient, ref, ref_ids, user_ref

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
TO_FHIR_STATUS = {"active": "active", "withdrawn": "inactive", "rejected": "rejected"}
FROM_FHIR_STATUS = {"active": consent_repo.ACTIVE, "rejected": consent_repo.REJECTED}


def to_fhir(c: Consent) -> Resource:
    granted = c.status == "active"
    return {
        "resourceType": "Consent", "id": c.id, "meta": {"lastUpdated": iso(c.recorded_at)},
        "status": TO_FHIR_STATUS.get(c.status, "inactive"),
        "scope": coded("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", "Privacy Consent"),
        "category": [coded("http://loinc.org", "59284-0", "Patient Consent")],
        "patient": ref("Patient", c.patient_id), "dateTime": iso(c.recorded_at),
        "performer": [user_ref(c.recorded_by)],
        "policyRule": coded("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN" if granted else "OPTOUT"),
        "provision": {"type": "permit" if granted else "deny",
                      "purpose": [{"system": ACT_REASON, "code": c.purpose}]},
    }


def read(session: Session, cipher: FieldCipher, cid: str) -> Resource | None:
    c = session.get(Consent, cid) if len(cid) <= 80 else None
    return None if c is None else to_fhir(c)


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    patient_id = known_patient(session, body, "Consent")
    purposes = [p.get("code") for p in (body.get("provision") or {}).get("purpose") or []]
    if len(purposes) != 1 or purposes[0] not in consent_repo.PURPOSES:
        raise FhirError(422, f"Consent.provision.purpose must name one of {', '.join(consent_repo.PURPOSES)}",
                        expression=["Consent.provision.purpose"])
    status = body.get("status")
    if status == "inactive":
        try:
            row = consent_repo.withdraw(session, consent_id=body["id"], patient_id=patient_id, purpose=purposes[0],
                                        by=ctx.user_id)
        except consent_repo.NoActiveConsent as exc:
            raise FhirError(409, str(exc)) from None
    elif status in FROM_FHIR_STATUS:
        row = consent_repo.record(session, consent_id=body["id"], patient_id=patient_id, purpose=purposes[0],
                                  status=FROM_FHIR_STATUS[status], by=ctx.user_id)
    else:
        raise FhirError(422, "Consent.status must be active, rejected or inactive (a withdrawal)",
                        expression=["Consent.status"])
    stored = read(session, cipher, row.id)
    assert stored is not None
    return stored, True


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    stmt = sa.select(Consent).order_by(Consent.recorded_at.desc(), Consent.id).limit(10_000)
    patients = ref_ids(q, ("patient",), "Patient")
    if patients is not None:
        stmt = stmt.where(Consent.patient_id.in_(patients))
    for raw in q.filters.get("_id", []):
        stmt = stmt.where(Consent.id.in_(raw.split(",")))
    out = [to_fhir(c) for c in session.scalars(stmt)]
    for raw in q.filters.get("status", []):
        wanted = token_values(raw, "status")
        out = [r for r in out if r["status"] in wanted]
    return out


register(ResourceType(
    name="Consent", policy_type="Consent", model=FhirConsent, read=read, search=search, create=create,
    patient_element="patient", write_rank=1,
    params={"_id": "token", "patient": "reference", "status": "token"},
    sorts={"_id": lambda r: r["id"], "date": lambda r: r.get("dateTime"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    includes={"patient": "patient"},
    documentation="Consent per purpose of use (provision.purpose: TREAT, HRESCH, HMARKT), append-only: create with "
                  "status active (grant), rejected (refusal) or inactive (withdrawal of an active consent).",
))

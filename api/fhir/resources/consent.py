"""Consent over ``hms.consents``: the append-only history of a patient's consent per purpose of use.

Each record is one Consent (``provision.purpose`` names the purpose: TREAT, HRESCH, HMARKT).
A create appends a record: ``active`` grants, ``rejected`` refuses, ``inactive`` withdraws an
active consent (409 when there is none).

An update may only withdraw: ``status`` active → inactive on the patient's current grant for that
purpose. It goes through ``consent_repo.withdraw`` like ``POST …/consents/{purpose}/withdraw``: the
stored history is never rewritten; a withdrawal record is appended under an id derived from the
updated one (so a repeated update is idempotent), and the updated record reads as ``inactive``
from then on.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from fhir.resources.R4B.consent import Consent as FhirConsent
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import consent_repo
from activities.storage.models import Consent
from api.fhir.errors import FhirError
from api.fhir.params import SearchQuery, token_values
from api.fhir.registry import Resource, ResourceType, WriteContext, register
from api.fhir.resources.common import coded, iso, known_patient, ref, ref_ids, ref_of, user_ref

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
TO_FHIR_STATUS = {"active": "active", "withdrawn": "inactive", "rejected": "rejected"}
FROM_FHIR_STATUS = {"active": consent_repo.ACTIVE, "rejected": consent_repo.REJECTED}
#: Namespace of the ids of withdrawal records appended by an update (one per updated record).
WITHDRAWALS = uuid.UUID("0b6f2a54-93d6-4c1e-9a51-6f0e1c7d2b10")


def withdrawal_id(consent_id: str) -> str:
    return str(uuid.uuid5(WITHDRAWALS, consent_id))


def to_fhir(c: Consent, withdrawn: bool = False) -> Resource:
    """The record as FHIR; ``withdrawn`` when an update withdrew this very grant."""
    granted = c.status == "active"
    return {
        "resourceType": "Consent", "id": c.id, "meta": {"lastUpdated": iso(c.recorded_at)},
        "status": "inactive" if withdrawn else TO_FHIR_STATUS.get(c.status, "inactive"),
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
    return None if c is None else to_fhir(c, _withdrawn(session, [c]).get(c.id, False))


def _withdrawn(session: Session, rows: list[Consent]) -> dict[str, bool]:
    """For each active grant, whether an update withdrew it (its derived withdrawal record exists)."""
    wanted = {withdrawal_id(c.id): c.id for c in rows if c.status == consent_repo.ACTIVE}
    if not wanted:
        return {}
    found = set(session.scalars(sa.select(Consent.id).where(Consent.id.in_(list(wanted)))))
    return {cid: wid in found for wid, cid in wanted.items()}


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


def update(session: Session, cipher: FieldCipher, cid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """Withdraw this grant (active → inactive) through the consent withdrawal path; nothing else changes."""
    row = session.get(Consent, cid)
    if row is None:
        return None
    current = read(session, cipher, cid)
    assert current is not None
    purposes = [p.get("code") for p in (body.get("provision") or {}).get("purpose") or []]
    if ref_of(body, "patient") != row.patient_id or purposes != [row.purpose]:
        raise FhirError(422, "an update may not change Consent.patient or Consent.provision.purpose",
                        expression=["Consent.patient", "Consent.provision.purpose"])
    wanted = body.get("status")
    if wanted == current["status"]:
        return current  # nothing to change (a repeated withdrawal lands here)
    if current["status"] != "active" or wanted != "inactive":
        raise FhirError(422, f"a Consent update may only withdraw (status active -> inactive), not "
                             f"{current['status']} -> {wanted}; record a new Consent instead",
                        expression=["Consent.status"])
    latest = session.scalar(sa.select(Consent.id).where(
        Consent.patient_id == row.patient_id, Consent.purpose == row.purpose)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc()).limit(1))
    if latest != cid:
        raise FhirError(409, "this grant was superseded by a later Consent record; update the current one")
    try:
        consent_repo.withdraw(session, consent_id=withdrawal_id(cid), patient_id=row.patient_id,
                              purpose=row.purpose, by=ctx.user_id)
    except consent_repo.NoActiveConsent as exc:
        raise FhirError(409, str(exc)) from None
    return read(session, cipher, cid)


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    stmt = sa.select(Consent).order_by(Consent.recorded_at.desc(), Consent.id).limit(10_000)
    patients = ref_ids(q, ("patient",), "Patient")
    if patients is not None:
        stmt = stmt.where(Consent.patient_id.in_(patients))
    for raw in q.filters.get("_id", []):
        stmt = stmt.where(Consent.id.in_(raw.split(",")))
    rows = list(session.scalars(stmt))
    withdrawn = _withdrawn(session, rows)
    out = [to_fhir(c, withdrawn.get(c.id, False)) for c in rows]
    for raw in q.filters.get("status", []):
        wanted = token_values(raw, "status")
        out = [r for r in out if r["status"] in wanted]
    return out


register(ResourceType(
    name="Consent", policy_type="Consent", model=FhirConsent, read=read, search=search, create=create,
    update=update, patient_element="patient", write_rank=1,
    params={"_id": "token", "patient": "reference", "status": "token"},
    sorts={"_id": lambda r: r["id"], "date": lambda r: r.get("dateTime"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    includes={"patient": "patient"},
    documentation="Consent per purpose of use (provision.purpose: TREAT, HRESCH, HMARKT), append-only: create with "
                  "status active (grant), rejected (refusal) or inactive (withdrawal of an active consent); "
                  "update only withdraws the current grant (status active -> inactive), appending the withdrawal.",
))

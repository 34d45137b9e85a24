"""Condition create and update: the problem list and diagnoses clinicians record, in ``hms.conditions``
(``activities.storage.condition_repo``: the code, text, onset and abatement sealed under the patient's
data key), with their ``meta.security`` labels kept so the policy decides every later read as for a
labelled note (an HIV diagnosis is never shown to billing).

A create with an identifier is idempotent: the id derives from it (a blind index), so a resent
condition answers 200 with the stored one. The stay-reason conditions (``enc-<encounter>``) are a
view of the stay and follow it: they refuse updates (change ``Encounter.reasonCode`` instead).
"""
from __future__ import annotations

import json

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import condition_repo as store
from activities.storage.models import Encounter
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, WriteContext
from api.fhir.resources.common import known_patient, ref_of
from api.fhir.resources.note_writes import labels

CATEGORIES = ("problem-list-item", "encounter-diagnosis")
CLINICAL = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
VERIFICATION = ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error")
DERIVED_PREFIX = "enc-"
MAX_BODY = 20_000


def new_id(body: Resource, ctx: WriteContext) -> str:
    assert ctx.cipher is not None
    return store.id_for(ctx.cipher, body)


def _status(body: Resource, element: str, system: str, allowed: tuple[str, ...]) -> str | None:
    concept = body.get(element)
    if concept is None:
        return None
    codes = [c.get("code") for c in concept.get("coding") or [] if c.get("system") in (system, None)]
    if len(codes) != 1 or codes[0] not in allowed:
        raise FhirError(422, f"Condition.{element}: one coding from {system} ({', '.join(allowed)})",
                        expression=[f"Condition.{element}"])
    return str(codes[0])


def _category(body: Resource) -> str:
    codes = [c.get("code") for concept in body.get("category") or [] for c in concept.get("coding") or []
             if c.get("system") in (store.CATEGORY, None)]
    if len(codes) != 1 or codes[0] not in CATEGORIES:
        raise FhirError(422, f"Condition.category: one of {', '.join(CATEGORIES)} ({store.CATEGORY})",
                        expression=["Condition.category"])
    return str(codes[0])


def _code(body: Resource) -> None:
    code = body.get("code") or {}
    codings = code.get("coding") or []
    if not (code.get("text") or "").strip() and not any(c.get("system") and c.get("code") for c in codings):
        raise FhirError(422, "Condition.code: a coding (system and code) or a text is required",
                        expression=["Condition.code"])
    if any(not (c.get("system") and c.get("code")) for c in codings):
        raise FhirError(422, "Condition.code.coding: each coding needs a system and a code",
                        expression=["Condition.code.coding"])


def _encounter(session: Session, body: Resource, patient_id: str) -> str | None:
    if body.get("encounter") is None:
        return None
    eid = ref_of(body, "encounter")
    found = session.get(Encounter, eid) if eid and len(eid) <= 36 and \
        str(body["encounter"].get("reference", "")).startswith("Encounter/") else None
    if found is None or found.patient_id != patient_id:
        raise FhirError(422, "Condition.encounter must reference a stay of the subject",
                        expression=["Condition.encounter"])
    return found.id


def columns(session: Session, body: Resource) -> store.Columns:
    """The checked clear columns of a Condition body (422 naming the element that is unusable)."""
    patient_id = known_patient(session, body, "Condition", "subject")
    verification = _status(body, "verificationStatus", store.VERIFICATION, VERIFICATION)
    clinical = _status(body, "clinicalStatus", store.CLINICAL, CLINICAL)
    if verification == "entered-in-error" and clinical is not None:
        raise FhirError(422, "Condition.clinicalStatus: absent when verificationStatus is entered-in-error (con-5)",
                        expression=["Condition.clinicalStatus"])
    if verification != "entered-in-error" and clinical is None:
        raise FhirError(422, "Condition.clinicalStatus is required (con-3, con-4)",
                        expression=["Condition.clinicalStatus"])
    _code(body)
    if len(json.dumps(body, default=str)) > MAX_BODY:
        raise FhirError(422, f"a Condition is at most {MAX_BODY} characters of JSON")
    return store.Columns(patient_id=patient_id, encounter_id=_encounter(session, body, patient_id),
                         category=_category(body), clinical_status=clinical, verification_status=verification,
                         security=labels(body, "Condition"))


def _read_back(session: Session, cipher: FieldCipher, condition_id: str) -> Resource:
    row = store.get(session, condition_id)
    assert row is not None
    return store.open_row(session, cipher, row)


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    """Record the condition (once per identifier) and answer it as a read serves it."""
    cols = columns(session, body)
    created = store.record(session, cipher, body["id"], body, cols, ctx.user_id)
    if not created:
        existing = store.get(session, body["id"])
        if existing is None or existing.patient_id != cols.patient_id:
            raise FhirError(409, "a Condition with this identifier is stored for another subject")
    return _read_back(session, cipher, body["id"]), created


def update(session: Session, cipher: FieldCipher, cid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """Replace a recorded condition (a new version); the patient it belongs to never changes."""
    if cid.startswith(DERIVED_PREFIX):
        raise FhirError(422, f"Condition/{cid} is the stay's admission reason and follows the stay; change "
                             "Encounter.reasonCode instead", expression=["Condition.id"])
    row = store.locked(session, cid)
    if row is None:
        return None
    if ref_of(body, "subject") != row.patient_id:
        raise FhirError(422, "an update may not change Condition.subject", expression=["Condition.subject"])
    store.update(session, cipher, row, body, columns(session, body))
    return _read_back(session, cipher, cid)

"""Condition: the problem list and diagnoses clinicians record (``hms.conditions``, the clinical content
sealed per patient; ``condition_writes`` creates and updates them), plus the reason each stay was opened
for, served as an ``encounter-diagnosis`` with id ``enc-<encounter id>`` from ``hms.encounters``.

Both kinds answer read and search. A search on ``code`` opens the sealed rows of the candidates and
filters them (the codes are not stored in the clear); the stay reasons are text and match no code.
"""
from __future__ import annotations

import sqlalchemy as sa
from fhir.resources.R4B.condition import Condition as FhirCondition
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import condition_repo as store
from activities.storage import repository as repo
from activities.storage.models import ACTIVE_ENCOUNTER_STATES, Encounter
from api.fhir.params import SearchQuery, token_values
from api.fhir.registry import Resource, ResourceType, register
from api.fhir.resources import condition_writes as writes
from api.fhir.resources.common import coded, drop_none, iso, ref, ref_ids, token_match, user_ref

PREFIX = writes.DERIVED_PREFIX


def to_fhir(e: Encounter, reason: str) -> Resource:
    active = e.status in ACTIVE_ENCOUNTER_STATES
    return drop_none({
        "resourceType": "Condition", "id": f"{PREFIX}{e.id}", "meta": {"lastUpdated": iso(e.ended_at or e.created_at)},
        "clinicalStatus": coded(store.CLINICAL, "active" if active else "resolved"),
        "category": [coded(store.CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")],
        "code": {"text": reason}, "subject": ref("Patient", e.patient_id), "encounter": ref("Encounter", e.id),
        "recordedDate": iso(e.created_at), "asserter": user_ref(e.attending_id) if e.attending_id else None,
        "abatementDateTime": None if active else iso(e.ended_at),
    })


def read(session: Session, cipher: FieldCipher, cid: str) -> Resource | None:
    if not cid.startswith(PREFIX):
        row = store.get(session, cid)
        return None if row is None else store.open_row(session, cipher, row)
    eid = cid[len(PREFIX):]
    e = session.get(Encounter, eid) if eid and len(eid) <= 36 else None
    return None if e is None else to_fhir(e, repo.encounter_reason(session, cipher, e))


def _tokens(q: SearchQuery, name: str) -> list[str] | None:
    """Bare codes of a token parameter when it is given once (several are ANDed later by ``token_match``)."""
    values = q.filters.get(name, [])
    if len(values) != 1:
        return None
    return [t.partition("|")[2] if "|" in t else t for t in token_values(values[0], name)]


def _derived(session: Session, cipher: FieldCipher, q: SearchQuery, patients: list[str] | None,
             encounters: list[str] | None, ids: list[str] | None) -> list[Resource]:
    categories = _tokens(q, "category")
    if "code" in q.filters or (categories is not None and "encounter-diagnosis" not in categories):
        return []  # stay reasons are text: they match no code and are encounter diagnoses only
    stmt = sa.select(Encounter).order_by(Encounter.created_at.desc(), Encounter.id).limit(10_000)
    if patients is not None:
        stmt = stmt.where(Encounter.patient_id.in_(patients))
    if encounters is not None:
        stmt = stmt.where(Encounter.id.in_(encounters))
    if ids is not None:
        stmt = stmt.where(Encounter.id.in_([i[len(PREFIX):] for i in ids if i.startswith(PREFIX)]))
    found = list(session.scalars(stmt))
    reasons = repo.encounter_reasons(session, cipher, found)  # an erased patient's stays are left out
    return [to_fhir(e, reasons[e.id]) for e in found if e.id in reasons]


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    patients = ref_ids(q, ("patient", "subject"), "Patient")
    encounters = ref_ids(q, ("encounter",), "Encounter")
    ids = [v for raw in q.filters.get("_id", []) for v in raw.split(",")] or None
    stored = store.rows(session, patients=patients, encounters=encounters,
                        ids=None if ids is None else [i for i in ids if not i.startswith(PREFIX)],
                        categories=_tokens(q, "category"), clinical=_tokens(q, "clinical-status"))
    out = store.open_rows(session, cipher, stored) + _derived(session, cipher, q, patients, encounters, ids)
    return [r for r in out if _matches(q, r)]


def _codes(r: Resource, element: str) -> list[str]:
    concepts = r.get(element) or []
    concepts = concepts if isinstance(concepts, list) else [concepts]
    out: list[str] = []
    for concept in concepts:
        for c in concept.get("coding") or []:
            if c.get("code"):
                out += [f"{c.get('system') or ''}|{c['code']}", str(c["code"])]
    return out


def _matches(q: SearchQuery, r: Resource) -> bool:
    return (token_match(q, "code", _codes(r, "code")) and token_match(q, "category", _codes(r, "category"))
            and token_match(q, "clinical-status", _codes(r, "clinicalStatus"))
            and token_match(q, "_id", [r["id"]]))


register(ResourceType(
    name="Condition", policy_type="Condition", model=FhirCondition, read=read, search=search,
    create=writes.create, update=writes.update, new_id=writes.new_id, stores_labels=True, write_rank=4,
    params={"_id": "token", "patient": "reference", "subject": "reference", "encounter": "reference",
            "clinical-status": "token", "code": "token", "category": "token"},
    sorts={"_id": lambda r: r["id"], "date": lambda r: r.get("recordedDate"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    includes={"patient": "subject", "subject": "subject", "encounter": "encounter"},
    documentation="The problem list and diagnoses (category problem-list-item or encounter-diagnosis): code, text, "
                  "onset and abatement sealed per patient, meta.security labels (PSY, HIV, ETH, SDV, SEX) kept and "
                  "enforced; a create with an identifier is idempotent; update replaces a recorded condition (If-Match "
                  "honoured). Each stay's admission reason is also served, read-only, as an encounter-diagnosis "
                  "with id enc-<encounter>: it follows the stay (change Encounter.reasonCode).",
))

"""Conditions (problem list, diagnoses) as FHIR R4 dicts: record (idempotent), read, update and list.

A diagnosis is clinical content: everything but the clear columns of ``ConditionRecord`` is
sealed under the patient's data key with associated data naming the table, column, row and
patient, so no code, display, text or onset is stored in plaintext. Callers pass resources
already validated (``api.fhir.resources.condition_writes``); this module only stores them.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import sealed
from activities.storage.models_conditions import ConditionRecord

TABLE = "conditions"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
#: Elements served from the clear columns (or set by the store), never taken from the sealed body.
CLEAR = ("resourceType", "id", "meta", "subject", "encounter", "category", "clinicalStatus", "verificationStatus",
         "recorder")


@dataclass(frozen=True)
class Columns:
    """The clear columns of one condition, as the caller checked them."""

    patient_id: str
    encounter_id: str | None
    category: str
    clinical_status: str | None
    verification_status: str | None
    security: list[str]


def identifier_index(cipher: FieldCipher, resource: dict[str, Any]) -> bytes | None:
    """The blind index of the first identifier (``condition|system``, value); None without one."""
    idents = resource.get("identifier") or []
    first = idents[0] if idents and isinstance(idents[0], dict) else {}
    if not first.get("value"):
        return None
    return cipher.blind_index(f"condition|{first.get('system') or ''}", str(first["value"]))


def id_for(cipher: FieldCipher, resource: dict[str, Any]) -> str:
    """The id a create stores under: derived from the identifier (a resend finds it), else a fresh uuid."""
    index = identifier_index(cipher, resource)
    return str(uuid.UUID(bytes=index[:16], version=4)) if index is not None else str(uuid.uuid4())


def _body(resource: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in resource.items() if k not in CLEAR}, sort_keys=True, separators=(",", ":"))


def record(session: Session, cipher: FieldCipher, condition_id: str, resource: dict[str, Any], cols: Columns,
           recorded_by: str) -> bool:
    """Store a new condition under ``condition_id``; False when that id (or identifier) is already stored."""
    key = cipher.data_key(session, cols.patient_id, create=True)
    row = session.execute(
        insert(ConditionRecord).values(
            id=condition_id, identifier_index=identifier_index(cipher, resource), recorded_by=recorded_by,
            body=cipher.encrypt(key, TABLE, "body", condition_id, _body(resource)), **cols.__dict__)
        .on_conflict_do_nothing().returning(ConditionRecord.id)).first()
    return row is not None


def update(session: Session, cipher: FieldCipher, row: ConditionRecord, resource: dict[str, Any],
           cols: Columns) -> None:
    """Replace a stored condition's content (a new version); its patient never changes."""
    assert cols.patient_id == row.patient_id
    key = sealed.key_of(session, cipher, row.patient_id)
    for name, value in cols.__dict__.items():
        setattr(row, name, value)
    row.body = cipher.encrypt(key, TABLE, "body", row.id, _body(resource))
    row.version += 1
    row.updated_at = datetime.now(UTC)
    session.flush()


def locked(session: Session, condition_id: str) -> ConditionRecord | None:
    return session.get(ConditionRecord, condition_id, with_for_update=True) if len(condition_id) <= 36 else None


def get(session: Session, condition_id: str) -> ConditionRecord | None:
    return session.get(ConditionRecord, condition_id) if len(condition_id) <= 36 else None


def open_row(session: Session, cipher: FieldCipher, row: ConditionRecord) -> dict[str, Any]:
    """The stored condition as FHIR (``DataErased`` once the patient's data key was shredded)."""
    key = sealed.key_of(session, cipher, row.patient_id)
    return to_fhir(row, json.loads(cipher.decrypt(key, TABLE, "body", row.id, row.body)))


def to_fhir(row: ConditionRecord, body: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": str(row.version), "lastUpdated": _iso(row.updated_at)}
    if row.security:
        meta["security"] = [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c}
                            for c in row.security]
    out: dict[str, Any] = {"resourceType": "Condition", "id": row.id, "meta": meta}
    if row.clinical_status:
        out["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": row.clinical_status}]}
    if row.verification_status:
        out["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": row.verification_status}]}
    out["category"] = [{"coding": [{"system": CATEGORY, "code": row.category}]}]
    out.update(body)
    out["subject"] = {"reference": f"Patient/{row.patient_id}"}
    if row.encounter_id:
        out["encounter"] = {"reference": f"Encounter/{row.encounter_id}"}
    out.setdefault("recordedDate", _iso(row.recorded_at))
    out["recorder"] = {"identifier": {"system": "urn:hms:user", "value": row.recorded_by}}
    return out


def rows(session: Session, *, patients: Iterable[str] | None = None, encounters: Iterable[str] | None = None,
         ids: Iterable[str] | None = None, categories: Iterable[str] | None = None,
         clinical: Iterable[str] | None = None, limit: int = 10_000) -> list[ConditionRecord]:
    """Stored conditions matching the clear columns, newest first (content still sealed)."""
    q = sa.select(ConditionRecord)
    for column, values in ((ConditionRecord.patient_id, patients), (ConditionRecord.encounter_id, encounters),
                           (ConditionRecord.id, ids), (ConditionRecord.category, categories),
                           (ConditionRecord.clinical_status, clinical)):
        if values is not None:
            q = q.where(column.in_(list(values)))
    return list(session.scalars(q.order_by(ConditionRecord.recorded_at.desc(), ConditionRecord.id).limit(limit)))


def open_rows(session: Session, cipher: FieldCipher, found: list[ConditionRecord]) -> list[dict[str, Any]]:
    """Many stored conditions as FHIR (one key query); those of erased patients are left out."""
    keys = sealed.keys_for(session, cipher, (r.patient_id for r in found))
    return [to_fhir(r, json.loads(cipher.decrypt(k, TABLE, "body", r.id, r.body)))
            for r in found if not isinstance(k := keys[r.patient_id], Exception)]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

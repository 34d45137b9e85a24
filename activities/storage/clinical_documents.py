"""Clinical documents (FHIR Compositions) written or amended by clinicians, sealed under the patient's key.

The whole Composition (title, sections' narrative, entries) is clinical content and is stored
sealed; the patient, stay, document type, status, labels and author stay in the clear so the
policy can decide and searches can filter without opening a document. An amendment replaces the
row's content and raises its version; the replaced version is kept first (``record_versions``).
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import sealed
from activities.storage.models_versions import ClinicalDocument

DOCUMENTS = "clinical_documents"


def _seal(session: Session, cipher: FieldCipher, doc_id: str, patient_id: str, resource: dict[str, Any]) -> bytes:
    key = cipher.data_key(session, patient_id, create=True)
    return cipher.encrypt(key, DOCUMENTS, "resource", doc_id, json.dumps(resource, separators=(",", ":")))


def store(session: Session, cipher: FieldCipher, *, doc_id: str, patient_id: str, encounter_id: str | None,
          type_code: str, status: str, security: list[str], author_id: str, resource: dict[str, Any],
          version: int = 1) -> bool:
    """Store a document once (by id); returns whether this call stored it."""
    inserted = session.execute(insert(ClinicalDocument).values(
        id=doc_id, patient_id=patient_id, encounter_id=encounter_id, type_code=type_code, status=status,
        version=version, security=sorted(set(security)), author_id=author_id,
        resource=_seal(session, cipher, doc_id, patient_id, resource),
    ).on_conflict_do_nothing().returning(ClinicalDocument.id)).scalar()
    return inserted is not None


def replace(session: Session, cipher: FieldCipher, doc: ClinicalDocument, *, status: str, security: list[str],
            resource: dict[str, Any]) -> None:
    """Make ``resource`` the document's next version (the caller kept the current one first)."""
    doc.resource = _seal(session, cipher, doc.id, doc.patient_id, resource)
    doc.status, doc.security, doc.version = status, sorted(set(security)), doc.version + 1
    doc.updated_at = sa.func.now()
    session.flush()
    session.refresh(doc, ["updated_at"])


def get(session: Session, doc_id: str, *, lock: bool = False) -> ClinicalDocument | None:
    if len(doc_id) > 80:
        return None
    return session.get(ClinicalDocument, doc_id, with_for_update=lock)


def opened(session: Session, cipher: FieldCipher, doc: ClinicalDocument) -> dict[str, Any]:
    """The stored Composition in the clear; ``DataErased`` once the patient's key was shredded."""
    key = sealed.key_of(session, cipher, doc.patient_id)
    return json.loads(cipher.decrypt(key, DOCUMENTS, "resource", doc.id, doc.resource))


def find(session: Session, *, patients: list[str] | None, encounters: list[str] | None,
         ids: list[str] | None, limit: int = 10_000) -> list[ClinicalDocument]:
    """Documents matching the filters (None: no filter), newest first."""
    stmt = sa.select(ClinicalDocument).order_by(ClinicalDocument.created_at.desc(), ClinicalDocument.id).limit(limit)
    if patients is not None:
        stmt = stmt.where(ClinicalDocument.patient_id.in_(patients))
    if encounters is not None:
        stmt = stmt.where(ClinicalDocument.encounter_id.in_(encounters))
    if ids is not None:
        stmt = stmt.where(ClinicalDocument.id.in_(ids))
    return list(session.scalars(stmt))

"""Clinical notes (text encrypted at rest) and break-glass grants: writes are idempotent, reads feed the policy."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage.models_security import BreakGlassGrant, ClinicalNote

NOTES = "clinical_notes"


def add_note(session: Session, cipher: FieldCipher, *, note_id: str, patient_id: str, encounter_id: str | None,
             author_id: str, text: str, security: list[str]) -> None:
    """Store a note, its text encrypted under the patient's data key (``DataErased`` for an erased patient)."""
    key = cipher.data_key(session, patient_id, create=True)
    session.execute(insert(ClinicalNote).values(
        id=note_id, patient_id=patient_id, encounter_id=encounter_id, author_id=author_id,
        text=cipher.encrypt(key, NOTES, "text", note_id, text), security=sorted(set(security)))
        .on_conflict_do_nothing())


def get_note(session: Session, note_id: str) -> ClinicalNote | None:
    """The stored note (text still encrypted): labels and patient for the policy; ``note_text`` decrypts."""
    return session.get(ClinicalNote, note_id)


def note_text(session: Session, cipher: FieldCipher, note: ClinicalNote) -> str:
    """The note's text; ``DataErased`` once the patient's data key was shredded."""
    key = cipher.data_key(session, note.patient_id)
    return cipher.decrypt(key, NOTES, "text", note.id, note.text)


@dataclass(frozen=True)
class ActiveGrant:
    grant_id: str
    patient_id: str
    expires_at: datetime


def add_grant(session: Session, *, grant_id: str, patient_id: str, user_id: str, role: str, reason: str,
              created_at: datetime, expires_at: datetime, workflow_id: str) -> None:
    session.execute(insert(BreakGlassGrant).values(
        id=grant_id, patient_id=patient_id, user_id=user_id, role=role, reason=reason, created_at=created_at,
        expires_at=expires_at, workflow_id=workflow_id).on_conflict_do_nothing())


def active_grant(session: Session, user_id: str, patient_id: str, now: datetime) -> ActiveGrant | None:
    """The holder's unexpired, unrevoked grant for this patient with the latest expiry, if any."""
    row = session.execute(
        sa.select(BreakGlassGrant.id, BreakGlassGrant.patient_id, BreakGlassGrant.expires_at)
        .where(BreakGlassGrant.user_id == user_id, BreakGlassGrant.patient_id == patient_id,
               BreakGlassGrant.revoked_at.is_(None), BreakGlassGrant.expires_at > now)
        .order_by(BreakGlassGrant.expires_at.desc()).limit(1)).first()
    return None if row is None else ActiveGrant(grant_id=row.id, patient_id=row.patient_id, expires_at=row.expires_at)


def get_grant(session: Session, grant_id: str) -> BreakGlassGrant | None:
    return session.get(BreakGlassGrant, grant_id)


def revoke_grant(session: Session, grant_id: str, by: str, at: datetime) -> bool:
    """End a grant now; False when it had already ended (revoked or expired)."""
    done = session.execute(
        sa.update(BreakGlassGrant)
        .where(BreakGlassGrant.id == grant_id, BreakGlassGrant.revoked_at.is_(None), BreakGlassGrant.expires_at > at)
        .values(revoked_at=at, revoked_by=by))
    return bool(done.rowcount)


def record_review(session: Session, grant_id: str, *, status: str, outcome: str | None, by: str | None,
                  at: datetime, comment: str | None = None) -> None:
    """Set the review state; a finished review is never overwritten by a late retry."""
    session.execute(
        sa.update(BreakGlassGrant)
        .where(BreakGlassGrant.id == grant_id, BreakGlassGrant.review_status.in_(("pending", "escalated")))
        .values(review_status=status, review_outcome=outcome, reviewed_by=by, review_comment=comment,
                reviewed_at=at if status == "reviewed" else None))


def list_grants(session: Session, *, review_status: str | None, limit: int) -> list[BreakGlassGrant]:
    q = sa.select(BreakGlassGrant).order_by(BreakGlassGrant.created_at.desc()).limit(limit)
    if review_status:
        q = q.where(BreakGlassGrant.review_status == review_status)
    return list(session.scalars(q))

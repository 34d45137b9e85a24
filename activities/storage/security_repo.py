"""Clinical notes (text encrypted at rest) and break-glass grants: writes are idempotent, reads feed the policy."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, FieldCipher, ephemeral_cipher
from activities.storage import sealed
from activities.storage.models_security import BreakGlassGrant, ClinicalNote

NOTES, GRANTS = "clinical_notes", "break_glass_grants"
#: What a grant's reason reads as once the patient's record was erased (its key shredded).
ERASED_TEXT = "(erased with the patient's record)"


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
              created_at: datetime, expires_at: datetime, workflow_id: str, cipher: FieldCipher | None = None) -> None:
    """Store a grant, its reason sealed under the patient's data key (it tells why this patient was opened).

    ``cipher`` None uses the process's ephemeral keys (tests only; the API passes its cipher).
    """
    cipher = cipher or ephemeral_cipher()
    key = cipher.data_key(session, patient_id, create=True)
    session.execute(insert(BreakGlassGrant).values(
        id=grant_id, patient_id=patient_id, user_id=user_id, role=role, created_at=created_at,
        reason=cipher.encrypt(key, GRANTS, "reason", grant_id, reason),
        expires_at=expires_at, workflow_id=workflow_id).on_conflict_do_nothing())


def grant_reasons(session: Session, cipher: FieldCipher, grants: list[BreakGlassGrant]) -> dict[str, str]:
    """Each grant's reason in the clear (one key query); ``ERASED_TEXT`` for an erased patient's grant."""
    keys = sealed.keys_for(session, cipher, (g.patient_id for g in grants))
    return {g.id: ERASED_TEXT if isinstance(k := keys[g.patient_id], Exception)
            else cipher.decrypt(k, GRANTS, "reason", g.id, g.reason) for g in grants}


def review_comment(session: Session, cipher: FieldCipher, grant: BreakGlassGrant) -> str | None:
    """The reviewer's comment in the clear; ``DataErased`` once the patient's key was shredded."""
    if grant.review_comment is None:
        return None
    return cipher.decrypt(cipher.data_key(session, grant.patient_id), GRANTS, "review_comment", grant.id,
                          grant.review_comment)


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
                  at: datetime, comment: str | None = None, cipher: FieldCipher | None = None) -> None:
    """Set the review state, the comment sealed; a finished review is never overwritten by a late retry.

    The comment of a review of an erased patient's grant is not kept (it could only be stored unreadable).
    """
    sealed_comment = None
    if comment is not None:
        grant = session.get(BreakGlassGrant, grant_id)
        cipher = cipher or ephemeral_cipher()
        try:
            key = None if grant is None else cipher.data_key(session, grant.patient_id, create=True)
        except DataErased:
            key = None
        sealed_comment = None if key is None else cipher.encrypt(key, GRANTS, "review_comment", grant_id, comment)
    session.execute(
        sa.update(BreakGlassGrant)
        .where(BreakGlassGrant.id == grant_id, BreakGlassGrant.review_status.in_(("pending", "escalated")))
        .values(review_status=status, review_outcome=outcome, reviewed_by=by, review_comment=sealed_comment,
                reviewed_at=at if status == "reviewed" else None))


def list_grants(session: Session, *, review_status: str | None, limit: int) -> list[BreakGlassGrant]:
    q = sa.select(BreakGlassGrant).order_by(BreakGlassGrant.created_at.desc()).limit(limit)
    if review_status:
        q = q.where(BreakGlassGrant.review_status == review_status)
    return list(session.scalars(q))

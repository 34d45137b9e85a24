"""Repository functions for triage and intake; every write is idempotent under activity retries.

The free text (an intake's complaint and answers, an override reason) is sealed under the
patient's data key; ``intake_text`` and ``override_reason`` open it (``DataErased`` once erased).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import sealed
from activities.storage.models import CareTeam, CareTeamMember, User
from activities.storage.models_triage import IntakeDraft, TriageAssessment, VitalSigns

ASSESSMENTS, DRAFTS = "triage_assessments", "intake_drafts"


def record_assessment(session: Session, *, assessment: dict[str, Any], vitals: dict[str, Any],
                      cipher: FieldCipher | None = None) -> bool:
    """Insert the vitals and the assessment (same ids again: nothing changes); True if inserted now.

    ``cipher`` None uses the process's ephemeral keys (tests only; the activities pass theirs).
    """
    assessment = dict(assessment)
    if assessment.get("override_reason") is not None:
        cipher = cipher or ephemeral_cipher()
        key = cipher.data_key(session, assessment["patient_id"], create=True)
        assessment["override_reason"] = sealed.seal(cipher, key, ASSESSMENTS, "override_reason", assessment["id"],
                                                    assessment["override_reason"])
    session.execute(insert(VitalSigns).values(**vitals).on_conflict_do_nothing(index_elements=["id"]))
    inserted = session.execute(
        insert(TriageAssessment).values(**assessment).on_conflict_do_nothing(index_elements=["id"])
        .returning(TriageAssessment.id)).scalar()
    return inserted is not None


def link_encounter(session: Session, triage_id: str, encounter_id: str) -> None:
    """Attach a pre-admission triage (its vitals and assessments) to the stay it led to."""
    session.execute(sa.update(VitalSigns).where(VitalSigns.triage_id == triage_id)
                    .values(encounter_id=encounter_id))
    session.execute(sa.update(TriageAssessment).where(TriageAssessment.triage_id == triage_id)
                    .values(encounter_id=encounter_id))


def assessments(session: Session, triage_id: str) -> list[TriageAssessment]:
    return list(session.scalars(sa.select(TriageAssessment).where(TriageAssessment.triage_id == triage_id)
                                .order_by(TriageAssessment.sequence)))


def save_intake_draft(session: Session, values: dict[str, Any], cipher: FieldCipher | None = None) -> bool:
    """Insert or refresh the draft, its complaint and answers sealed; a late retry never overwrites a newer one."""
    cipher = cipher or ephemeral_cipher()
    key = cipher.data_key(session, values["patient_id"], create=True)
    values = {**values,
              "complaint": cipher.encrypt(key, DRAFTS, "complaint", values["id"], values["complaint"]),
              "answers": sealed.seal_json(cipher, key, DRAFTS, "answers", values["id"], values.get("answers") or {})}
    stmt = insert(IntakeDraft).values(**values)
    updatable = {k: stmt.excluded[k] for k in values if k not in ("id", "created_by", "patient_id")}
    created = session.get(IntakeDraft, values["id"]) is None
    session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updatable,
                                               where=IntakeDraft.updated_at <= stmt.excluded.updated_at))
    return created


def intake_draft(session: Session, intake_id: str) -> IntakeDraft | None:
    """The stored draft (complaint and answers still sealed): ``intake_text`` opens them."""
    return session.get(IntakeDraft, intake_id)


@dataclass(frozen=True)
class IntakeText:
    complaint: str
    answers: dict[str, Any]


def intake_text(session: Session, cipher: FieldCipher, draft: IntakeDraft) -> IntakeText:
    """The draft's complaint and answers in the clear; ``DataErased`` once the patient's key was shredded."""
    key = cipher.data_key(session, draft.patient_id)
    return IntakeText(complaint=cipher.decrypt(key, DRAFTS, "complaint", draft.id, draft.complaint),
                      answers=sealed.unseal_json(cipher, key, DRAFTS, "answers", draft.id, draft.answers) or {})


def override_reason(session: Session, cipher: FieldCipher, a: TriageAssessment) -> str | None:
    """The assessment's override reason in the clear (None if the ESI was not overridden)."""
    if a.override_reason is None:
        return None
    return sealed.unseal(cipher, cipher.data_key(session, a.patient_id), ASSESSMENTS, "override_reason", a.id,
                         a.override_reason)


def ward_care_team(session: Session, ward: str) -> tuple[str, str] | None:
    """(care team, attending) covering a ward: who answers an ED arrival's rapid response."""
    row = session.execute(
        sa.select(CareTeam.id, User.id)
        .join(CareTeamMember, CareTeamMember.care_team_id == CareTeam.id)
        .join(User, User.id == CareTeamMember.user_id)
        .where(CareTeam.wards.any(ward), User.role == "attending_physician", User.active)
        .order_by(CareTeam.id, User.id)).first()
    return (row[0], row[1]) if row else None

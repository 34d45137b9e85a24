"""Repository functions for triage and intake; every write is idempotent under activity retries."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.storage.models import CareTeam, CareTeamMember, User
from activities.storage.models_triage import IntakeDraft, TriageAssessment, VitalSigns


def record_assessment(session: Session, *, assessment: dict[str, Any], vitals: dict[str, Any]) -> bool:
    """Insert the vitals and the assessment (same ids again: nothing changes); True if inserted now."""
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


def save_intake_draft(session: Session, values: dict[str, Any]) -> bool:
    """Insert or refresh the draft; an older write (a late retry) never overwrites a newer one."""
    stmt = insert(IntakeDraft).values(**values)
    updatable = {k: stmt.excluded[k] for k in values if k not in ("id", "created_by", "patient_id")}
    created = session.get(IntakeDraft, values["id"]) is None
    session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updatable,
                                               where=IntakeDraft.updated_at <= stmt.excluded.updated_at))
    return created


def intake_draft(session: Session, intake_id: str) -> IntakeDraft | None:
    return session.get(IntakeDraft, intake_id)


def ward_care_team(session: Session, ward: str) -> tuple[str, str] | None:
    """(care team, attending) covering a ward: who answers an ED arrival's rapid response."""
    row = session.execute(
        sa.select(CareTeam.id, User.id)
        .join(CareTeamMember, CareTeamMember.care_team_id == CareTeam.id)
        .join(User, User.id == CareTeamMember.user_id)
        .where(CareTeam.wards.any(ward), User.role == "attending_physician", User.active)
        .order_by(CareTeam.id, User.id)).first()
    return (row[0], row[1]) if row else None

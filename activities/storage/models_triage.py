"""Tables of triage and pre-triage intake (schema ``hms``).

``vital_signs`` is the Observation-like record of one set of bedside vitals;
``triage_assessments`` the acuity decided from it (NEWS2, ESI suggested and final, who,
when); ``intake_drafts`` the conversational intake the triage task references by id, so
no free clinical text ever sits in a task's details. Free text (complaint, answers, an
override reason) is sealed under the patient's data key; vitals, scores and codes stay in
the clear for the queue and the operations views.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class VitalSigns(Base):
    """One set of vitals (FHIR Observation, category vital-signs, as a panel)."""

    __tablename__ = "vital_signs"
    id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    encounter_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    triage_id: Mapped[str] = mapped_column(sa.String(80), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="final")
    values: Mapped[dict] = mapped_column(JSONB)
    effective_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(sa.String(60))


class TriageAssessment(Base):
    """The acuity of one triage or re-assessment; ``sequence`` 0 is the initial triage."""

    __tablename__ = "triage_assessments"
    __table_args__ = (sa.UniqueConstraint("triage_id", "sequence", name="uq_triage_assessments_triage_seq"),)
    id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    triage_id: Mapped[str] = mapped_column(sa.String(80), index=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    encounter_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    sequence: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(20))
    observation_id: Mapped[str] = mapped_column(sa.ForeignKey("vital_signs.id"))
    news2: Mapped[int] = mapped_column(sa.Integer)
    news2_band: Mapped[str] = mapped_column(sa.String(20))
    esi_suggested: Mapped[int] = mapped_column(sa.SmallInteger)
    esi_final: Mapped[int] = mapped_column(sa.SmallInteger)
    #: Why the nurse overrode the suggested ESI: sealed under the patient's data key (``triage_store``).
    override_reason: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    red_flags: Mapped[list[str]] = mapped_column(ARRAY(sa.String(60)), default=list)
    model_version: Mapped[str] = mapped_column(sa.String(60))
    assessed_by: Mapped[str] = mapped_column(sa.String(60))
    assessed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class IntakeDraft(Base):
    """The pre-triage intake (FHIR QuestionnaireResponse-like), updated after every answer."""

    __tablename__ = "intake_drafts"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    #: The chief complaint and the answers (JSON), sealed under the patient's data key (``triage_store``).
    complaint: Mapped[bytes] = mapped_column(sa.LargeBinary)
    #: A coarse code of the question bank (``chest_pain``), kept in the clear like the red-flag codes.
    category: Mapped[str] = mapped_column(sa.String(40))
    answers: Mapped[bytes] = mapped_column(sa.LargeBinary)
    red_flags: Mapped[list[str]] = mapped_column(ARRAY(sa.String(60)), default=list)
    esi_suggested: Mapped[int | None] = mapped_column(sa.SmallInteger)
    triage_id: Mapped[str | None] = mapped_column(sa.String(80))
    created_by: Mapped[str] = mapped_column(sa.String(60))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

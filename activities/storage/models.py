"""SQLAlchemy 2 models of the clinical store (schema ``hms``).

The audit ledger lives in its own schema (``audit``) and is owned by ``ledger``.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA = "hms"

#: Encounter states in which a patient occupies the hospital (one at a time per patient).
ACTIVE_ENCOUNTER_STATES = ("planned", "in-progress")


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        schema=SCHEMA,
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        },
    )


def _now() -> sa.ColumnElement[datetime]:
    return sa.func.now()


class Ward(Base):
    __tablename__ = "wards"
    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    beds: Mapped[list[Bed]] = relationship(back_populates="ward", order_by="Bed.label")


class Bed(Base):
    __tablename__ = "beds"
    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    ward_id: Mapped[str] = mapped_column(sa.ForeignKey("wards.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(40))
    encounter_id: Mapped[str | None] = mapped_column(sa.ForeignKey("encounters.id"), unique=True)
    ward: Mapped[Ward] = relationship(back_populates="beds")


class CareTeam(Base):
    __tablename__ = "care_teams"
    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    #: The wards whose patients this team takes by default.
    wards: Mapped[list[str]] = mapped_column(ARRAY(sa.String(40)), default=list)


class User(Base):
    """A member of staff (or a patient) who signs in; attributes feed the policy input."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(40), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    wards: Mapped[list[str]] = mapped_column(ARRAY(sa.String(40)), default=list)
    active: Mapped[bool] = mapped_column(default=True)


class CareTeamMember(Base):
    __tablename__ = "care_team_members"
    care_team_id: Mapped[str] = mapped_column(sa.ForeignKey("care_teams.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)


class Patient(Base):
    """Demographics, each field AES-256-GCM under the patient's data key (``activities.crypto.fields``)."""

    __tablename__ = "patients"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    given: Mapped[bytes] = mapped_column(sa.LargeBinary)
    family: Mapped[bytes] = mapped_column(sa.LargeBinary)
    #: ISO date, encrypted like the names.
    birth_date: Mapped[bytes] = mapped_column(sa.LargeBinary)
    gender: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    identifiers: Mapped[list[PatientIdentifier]] = relationship(back_populates="patient", lazy="selectin")


class PatientIdentifier(Base):
    """An identifier (MRN, national id): the value encrypted, found by its keyed blind index."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (sa.UniqueConstraint("system", "value_index", name="uq_patient_identifiers_system_value_index"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    system: Mapped[str] = mapped_column(sa.String(200))
    value: Mapped[bytes] = mapped_column(sa.LargeBinary)
    #: HMAC-SHA256 of (system, value) under the blind-index key: equality lookups without the plaintext.
    value_index: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    patient: Mapped[Patient] = relationship(back_populates="identifiers")


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (
        # One active stay per patient: a second concurrent admission is refused by the database.
        sa.Index(
            "uq_encounters_one_active_per_patient",
            "patient_id",
            unique=True,
            postgresql_where=sa.text("status IN ('planned', 'in-progress')"),
        ),
    )
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    journey_id: Mapped[str] = mapped_column(sa.String(80), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    encounter_class: Mapped[str] = mapped_column(sa.String(10), default="IMP")
    ward_id: Mapped[str] = mapped_column(sa.ForeignKey("wards.id"))
    #: Why the patient was admitted: AES-256-GCM under the patient's data key (``repository.encounter_reason``).
    reason: Mapped[bytes] = mapped_column(sa.LargeBinary)
    attending_id: Mapped[str | None] = mapped_column(sa.ForeignKey("users.id"))
    care_team_id: Mapped[str | None] = mapped_column(sa.ForeignKey("care_teams.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    admitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Consent(Base):
    __tablename__ = "consents"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    recorded_by: Mapped[str] = mapped_column(sa.String(60))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class Task(Base):
    """Projection of the human tasks that journeys open; the workflow stays the source of truth."""

    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(60))
    role: Mapped[str] = mapped_column(sa.String(40), index=True)
    ward_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    encounter_id: Mapped[str | None] = mapped_column(sa.String(36))
    journey_id: Mapped[str] = mapped_column(sa.String(80), index=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    due: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: The routing keys of the details (ids and codes the inbox filters on), in the clear.
    details: Mapped[dict] = mapped_column(JSONB, default=dict)
    #: The rest of the details (clinical), JSON sealed under the patient's data key (``tasks.opened``).
    details_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_by: Mapped[str | None] = mapped_column(sa.String(60))

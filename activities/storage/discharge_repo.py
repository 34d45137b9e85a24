"""Discharge summaries and the bed hand-over (cleaning), idempotent like every write here.

A bed being cleaned stays held by the leaving stay (``beds.encounter_id``), so
admission cannot give it away; releasing it after cleaning is what frees it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.storage.models import Bed, Encounter
from activities.storage.models_billing import BedCleaning, DischargeSummary


def store_summary(session: Session, *, composition_id: str, encounter_id: str, journey_id: str, patient_id: str,
                  security: list[str], resource: dict[str, Any], at: datetime) -> bool:
    """Store the summary once per stay; returns whether this call stored it."""
    inserted = session.execute(insert(DischargeSummary).values(
        id=composition_id, encounter_id=encounter_id, journey_id=journey_id, patient_id=patient_id,
        security=security, resource=resource, created_at=at,
    ).on_conflict_do_nothing().returning(DischargeSummary.id)).scalar()
    return inserted is not None


def summary_of_journey(session: Session, journey_id: str) -> DischargeSummary | None:
    return session.scalar(sa.select(DischargeSummary).where(DischargeSummary.journey_id == journey_id))


def start_cleaning(session: Session, encounter_id: str, at: datetime) -> str | None:
    """Mark the stay's bed as being cleaned (it stays held); None when the stay holds no bed."""
    bed_id = session.scalar(sa.select(Bed.id).where(Bed.encounter_id == encounter_id))
    if bed_id is None:
        done = session.scalar(sa.select(BedCleaning.bed_id).where(BedCleaning.encounter_id == encounter_id))
        return done
    session.execute(insert(BedCleaning).values(bed_id=bed_id, encounter_id=encounter_id, status="cleaning",
                                               started_at=at).on_conflict_do_nothing())
    return bed_id


def release_bed(session: Session, encounter_id: str, by: str | None, at: datetime) -> str | None:
    """Cleaning done: the bed is free again. Running it twice changes nothing."""
    session.execute(sa.update(BedCleaning).where(BedCleaning.encounter_id == encounter_id,
                                                 BedCleaning.status == "cleaning")
                    .values(status="available", completed_at=at, completed_by=by))
    freed = session.scalar(sa.update(Bed).where(Bed.encounter_id == encounter_id).values(encounter_id=None)
                           .returning(Bed.id))
    if freed:
        return freed
    return session.scalar(sa.select(BedCleaning.bed_id).where(BedCleaning.encounter_id == encounter_id))


def waiting_admissions(session: Session, ward: str, exclude: str | None = None, limit: int = 25) -> list[str]:
    """Stays planned on the ward that hold no bed yet (admissions waiting for one), oldest first."""
    holds_bed = sa.exists().where(Bed.encounter_id == Encounter.id)
    query = (sa.select(Encounter.id).where(Encounter.ward_id == ward, Encounter.status == "planned", ~holds_bed)
             .order_by(Encounter.created_at, Encounter.id).limit(limit))
    if exclude:
        query = query.where(Encounter.id != exclude)
    return list(session.scalars(query))


def cleaning_status(session: Session, bed_id: str) -> str | None:
    return session.scalar(sa.select(BedCleaning.status).where(BedCleaning.bed_id == bed_id)
                          .order_by(BedCleaning.started_at.desc()).limit(1))


def encounter_ward(session: Session, encounter_id: str) -> str | None:
    enc = session.get(Encounter, encounter_id)
    return enc.ward_id if enc else None

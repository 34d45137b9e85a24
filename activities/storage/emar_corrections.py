"""Corrections of the eMAR: an administration record marked entered-in-error.

The record is nullified, not rewritten: status, reason, recorder and time stay as recorded, and the
row gains who corrected it and when (FHIR ``MedicationAdministration.status = entered-in-error``).
The first correction wins, so a repeated request changes nothing.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.storage.models_pharmacy import MedicationAdministration


def mark_entered_in_error(session: Session, administration_id: str, by: str, at: datetime | None = None) -> bool:
    """Mark one eMAR record entered-in-error; False when it was already marked (or does not exist)."""
    marked = session.execute(
        sa.update(MedicationAdministration)
        .where(MedicationAdministration.id == administration_id, MedicationAdministration.entered_in_error_at.is_(None))
        .values(entered_in_error_by=by, entered_in_error_at=at or sa.func.now())
        .returning(MedicationAdministration.id)).scalar()
    return marked is not None

"""Corrections of a recorded allergy (FHIR AllergyIntolerance update): code, criticality, status, reaction.

The order checks read the code and status in the clear (``pharmacy.active_allergies``); the reaction
stays sealed under the patient's data key, through the same sealing as ``pharmacy.add_allergy``.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import pharmacy_text
from activities.storage.models_pharmacy import AllergyIntolerance

FIELDS = ("code", "is_class", "criticality", "reaction", "status")


def update_allergy(session: Session, cipher: FieldCipher | None, allergy_id: str, values: dict[str, Any]) -> bool:
    """Rewrite the allergy's ``FIELDS`` (the same values twice are a no-op); False when there is no such row."""
    row = session.get(AllergyIntolerance, allergy_id, with_for_update=True)
    if row is None:
        return False
    wanted = {k: values[k] for k in FIELDS if k in values}
    sealed = pharmacy_text.seal_row(session, cipher, pharmacy_text.ALLERGIES, "reaction",
                                    {"id": row.id, "patient_id": row.patient_id, **wanted})
    sealed.pop("id"), sealed.pop("patient_id")
    session.execute(sa.update(AllergyIntolerance).where(AllergyIntolerance.id == allergy_id).values(**sealed))
    session.expire(row)
    return True

"""Changes to a stay that no journey step owns: today only its stated reason (an Encounter update).

The reason is sealed like at admission (``repository.create_encounter``): AES-256-GCM under the
patient's data key, associated data naming ``encounters``, ``reason`` and the stay. The journey
keeps no copy of it (``JourneyState`` carries none), so the store stays the one source of truth.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage.models import Encounter
from activities.storage.repository import ENCOUNTERS


def set_reason(session: Session, cipher: FieldCipher, encounter: Encounter, reason: str) -> None:
    """Re-seal the stay's reason (``DataErased`` for an erased patient)."""
    key = cipher.data_key(session, encounter.patient_id)
    encounter.reason = cipher.encrypt(key, ENCOUNTERS, "reason", encounter.id, reason)
    session.flush()

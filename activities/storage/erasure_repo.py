"""Legal retention holds and the erasure of a patient's record (crypto-shredding).

Erasure destroys the patient's wrapped data key, so every encrypted field of theirs
(demographics, identifiers, notes, stay reasons, triage and intake text, task details,
break-glass and hold reasons …) becomes unreadable, and deletes their identifiers'
blind indexes, so the person can no longer be found by identifier. Rows stay in place
(encounters, charges, the audit ledger's entries refer to them); the ledger is untouched.
Holds and the final checks share one advisory lock per patient, so a hold placed while
an erasure is being carried out either blocks it or waits for it.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto import dek_store
from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import sealed
from activities.storage.models import ACTIVE_ENCOUNTER_STATES, Encounter, Patient, PatientIdentifier
from activities.storage.models_identifiers import ResourceIdentifier
from activities.storage.models_keys import LegalHold


def _lock_patient(session: Session, patient_id: str) -> None:
    session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"hms-erasure|{patient_id}"})


HOLDS = "legal_holds"
#: What a hold's reason reads as once the patient's record was erased (after the hold was released).
ERASED_TEXT = "(erased with the patient's record)"


def place_hold(session: Session, *, hold_id: str, patient_id: str, reason: str, by: str,
               cipher: FieldCipher | None = None) -> None:
    """Place a hold, its reason (a case reference can name the patient) sealed under the patient's data key.

    ``DataErased`` for an erased patient; ``cipher`` None uses the process's ephemeral keys (tests only).
    """
    _lock_patient(session, patient_id)
    cipher = cipher or ephemeral_cipher()
    key = cipher.data_key(session, patient_id, create=True)
    session.execute(insert(LegalHold).values(id=hold_id, patient_id=patient_id, placed_by=by,
                                             reason=cipher.encrypt(key, HOLDS, "reason", hold_id, reason))
                    .on_conflict_do_nothing())


def hold_reasons(session: Session, cipher: FieldCipher, holds: list[LegalHold]) -> dict[str, str]:
    """Each hold's reason in the clear (one key query); ``ERASED_TEXT`` once the patient's key was shredded."""
    keys = sealed.keys_for(session, cipher, (h.patient_id for h in holds))
    return {h.id: ERASED_TEXT if isinstance(k := keys[h.patient_id], Exception)
            else cipher.decrypt(k, HOLDS, "reason", h.id, h.reason) for h in holds}


def release_hold(session: Session, hold_id: str, by: str, at: datetime) -> bool:
    """End a hold; False when it was already released."""
    done = session.execute(sa.update(LegalHold).where(LegalHold.id == hold_id, LegalHold.released_at.is_(None))
                           .values(released_at=at, released_by=by))
    return bool(done.rowcount)


def get_hold(session: Session, hold_id: str) -> LegalHold | None:
    return session.get(LegalHold, hold_id)


def holds_of(session: Session, patient_id: str, *, active_only: bool = False) -> list[LegalHold]:
    q = sa.select(LegalHold).where(LegalHold.patient_id == patient_id).order_by(LegalHold.placed_at, LegalHold.id)
    if active_only:
        q = q.where(LegalHold.released_at.is_(None))
    return list(session.scalars(q))


def erased_at(session: Session, patient_id: str) -> datetime | None:
    stored = dek_store.stored_key(session, patient_id)
    return stored.shredded_at if stored else None


def erasure_blockers(session: Session, patient_id: str) -> list[str]:
    """Why the record may not be erased now (empty when it may); codes and ids only, never hold reasons."""
    if session.get(Patient, patient_id) is None:
        return [f"patient {patient_id} not found"]
    when = erased_at(session, patient_id)
    if when is not None:
        return [f"the record was already erased on {when.date().isoformat()}"]
    blockers = []
    enc = session.scalar(sa.select(Encounter).where(Encounter.patient_id == patient_id,
                                                    Encounter.status.in_(ACTIVE_ENCOUNTER_STATES)))
    if enc is not None:
        blockers.append(f"the patient has an active encounter ({enc.status}, journey {enc.journey_id}); "
                        "a record is erased only after discharge")
    for hold in holds_of(session, patient_id, active_only=True):
        blockers.append(f"a legal retention hold is in place (hold {hold.id}, placed by {hold.placed_by} on "
                        f"{hold.placed_at.date().isoformat()})")
    return blockers


def shred_patient(session: Session, patient_id: str, erasure_id: str, at: datetime) -> list[str]:
    """Check again and shred, under the patient's lock; returns the blockers (empty: shredded now or before)."""
    _lock_patient(session, patient_id)
    if erased_at(session, patient_id) is not None:
        return []
    blockers = erasure_blockers(session, patient_id)
    if blockers:
        return blockers
    dek_store.shred(session, patient_id, erasure_id, at)
    session.execute(sa.delete(PatientIdentifier).where(PatientIdentifier.patient_id == patient_id))
    # Business identifiers of their resources (placer numbers…): their blind indexes would still find them.
    session.execute(sa.delete(ResourceIdentifier).where(ResourceIdentifier.patient_id == patient_id))
    return []

"""The store of wrapped per-patient data keys (``hms.patient_keys``): create once, re-wrap, shred.

Every write is idempotent and safe against concurrent writers: two registrations of
one patient agree on the first key stored; a re-wrap only replaces the wrapping it
read (compare-and-set on the KEK id), so a concurrent erasure is never undone.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.kms import Kms
from activities.storage.models_keys import PatientKey

DEK_BYTES = 32


@dataclass(frozen=True)
class StoredKey:
    patient_id: str
    kek_id: str | None
    wrapped: bytes | None
    shredded_at: datetime | None


def wrap_context(patient_id: str) -> bytes:
    """The wrapped key is bound to its patient: it cannot be copied onto another patient's row."""
    return b"patient|" + patient_id.encode()


def stored_key(session: Session, patient_id: str) -> StoredKey | None:
    row = session.execute(sa.select(PatientKey.kek_id, PatientKey.wrapped_dek, PatientKey.shredded_at)
                          .where(PatientKey.patient_id == patient_id)).first()
    return None if row is None else StoredKey(patient_id, row.kek_id, row.wrapped_dek, row.shredded_at)


def stored_keys(session: Session, patient_ids: list[str]) -> dict[str, StoredKey]:
    """``stored_key`` for many patients in one query (a patient with no key is absent)."""
    rows = session.execute(sa.select(PatientKey.patient_id, PatientKey.kek_id, PatientKey.wrapped_dek,
                                     PatientKey.shredded_at).where(PatientKey.patient_id.in_(patient_ids)))
    return {r.patient_id: StoredKey(r.patient_id, r.kek_id, r.wrapped_dek, r.shredded_at) for r in rows}


def create_key(session: Session, kms: Kms, patient_id: str) -> StoredKey:
    """Store a fresh wrapped data key unless the patient has one (or had one, shredded); return the stored one."""
    kek_id, wrapped = kms.wrap(os.urandom(DEK_BYTES), wrap_context(patient_id))
    session.execute(insert(PatientKey).values(patient_id=patient_id, kek_id=kek_id, wrapped_dek=wrapped)
                    .on_conflict_do_nothing(index_elements=["patient_id"]))
    found = stored_key(session, patient_id)
    assert found is not None
    return found


def shred(session: Session, patient_id: str, erasure_id: str, at: datetime) -> bool:
    """Destroy the patient's wrapped data key (crypto-shredding); False if it was already shredded.

    A patient without a key row (rows written before encryption) gets a shredded row, so
    every later read knows the record was erased.
    """
    done = session.execute(
        insert(PatientKey).values(patient_id=patient_id, kek_id=None, wrapped_dek=None, shredded_at=at,
                                  erasure_id=erasure_id)
        .on_conflict_do_update(index_elements=["patient_id"],
                               set_={"kek_id": None, "wrapped_dek": None, "shredded_at": at,
                                     "erasure_id": erasure_id},
                               where=PatientKey.shredded_at.is_(None))
        .returning(PatientKey.patient_id))
    return done.first() is not None


@dataclass(frozen=True)
class RewrapBatch:
    rewrapped: int
    seen: int


def rewrap_batch(session: Session, kms: Kms, limit: int = 200) -> RewrapBatch:
    """Re-wrap up to ``limit`` data keys not under the active KEK (rows locked by others are skipped)."""
    target = kms.active_id()
    rows = session.execute(
        sa.select(PatientKey.patient_id, PatientKey.kek_id, PatientKey.wrapped_dek)
        .where(PatientKey.wrapped_dek.is_not(None), PatientKey.kek_id != target)
        .order_by(PatientKey.patient_id).limit(limit).with_for_update(skip_locked=True)).all()
    done = 0
    for row in rows:
        ctx = wrap_context(row.patient_id)
        dek = kms.unwrap(row.kek_id, row.wrapped_dek, ctx)
        kek_id, wrapped = kms.wrap(dek, ctx)
        updated = session.execute(
            sa.update(PatientKey)
            .where(PatientKey.patient_id == row.patient_id, PatientKey.kek_id == row.kek_id,
                   PatientKey.wrapped_dek.is_not(None))
            .values(kek_id=kek_id, wrapped_dek=wrapped, rewrapped_at=datetime.now(UTC)))
        done += updated.rowcount
    return RewrapBatch(rewrapped=done, seen=len(rows))


def keys_by_kek(session: Session) -> dict[str, int]:
    """How many live data keys each KEK wraps (``shredded`` counts the shredded ones)."""
    label = sa.func.coalesce(PatientKey.kek_id, "shredded")
    return {k: int(n) for k, n in session.execute(sa.select(label, sa.func.count()).group_by(label)).all()}


def pending(session: Session, kek_id: str) -> int:
    """Live data keys not (yet) wrapped by ``kek_id``."""
    return int(session.scalar(sa.select(sa.func.count()).select_from(PatientKey)
                              .where(PatientKey.wrapped_dek.is_not(None), PatientKey.kek_id != kek_id)) or 0)

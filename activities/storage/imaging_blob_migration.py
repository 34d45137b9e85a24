"""Converting stored DICOM blobs between plaintext-by-SHA-256 and sealed-per-patient, inside a migration.

Before 0901 a blob had no owner: one row per file, shared by every study (of any patient) that
pointed at it. Sealing gives each patient whose studies point at a file their own row, sealed
under their data key and named by their keyed id (``activities.storage.imaging_blobs``), repoints
their studies at it and deletes the plaintext row. A blob of an erased patient cannot be sealed
(the key is gone): their studies lose it, as the erasure intended. A blob no study points at (an
upload whose study was never registered) has no patient to seal it for and is deleted.

Opening (the downgrade) reverses it: each sealed row is decrypted back to one shared row per
file. Work happens on the migration's connection, in its transaction, one blob at a time.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage.imaging_blobs import blob_id, open_bytes, seal_bytes
from activities.storage.sealing_migration import PatientKeys

S = "hms"


def count(bind: sa.Connection, *, sealed: bool) -> int:
    """Blobs still to convert: the sealed ones (``patient_id`` set) or the plaintext ones."""
    held = "IS NOT NULL" if sealed else "IS NULL"
    return int(bind.execute(sa.text(f"SELECT count(*) FROM {S}.imaging_blobs WHERE patient_id {held}")).scalar() or 0)


def _move(bind: sa.Connection, old: str, new: str | None, patient_id: str | None) -> None:
    """Point the studies at ``old`` (of ``patient_id``, or all) at ``new`` (None: the study loses its bytes)."""
    mine = "" if patient_id is None else " AND patient_id = :p"
    bind.execute(sa.text(f"UPDATE {S}.imaging_studies SET sha256 = :new WHERE sha256 = :old{mine}"),
                 {"new": new, "old": old, "p": patient_id})


def _put(bind: sa.Connection, row_id: str, patient_id: str | None, size: int, data: bytes, created) -> None:  # noqa: ANN001
    bind.execute(sa.text(f"INSERT INTO {S}.imaging_blobs (id, patient_id, size_bytes, data, created_at) "
                         "VALUES (:i, :p, :n, :d, :c) ON CONFLICT (id) DO NOTHING"),
                 {"i": row_id, "p": patient_id, "n": size, "d": data, "c": created})


def seal_blobs(bind: sa.Connection, cipher: FieldCipher) -> None:
    """Seal every plaintext blob per patient (see the module's docstring); ``patient_id`` must be nullable."""
    with Session(bind=bind) as session:
        keys = PatientKeys(session, cipher)
        for old in bind.execute(sa.text(f"SELECT id FROM {S}.imaging_blobs WHERE patient_id IS NULL")).scalars().all():
            row = bind.execute(sa.text(f"SELECT size_bytes, data, created_at FROM {S}.imaging_blobs WHERE id = :i"),
                               {"i": old}).one()
            data = bytes(row.data)
            digest = hashlib.sha256(data).hexdigest()
            owners = bind.execute(sa.text(f"SELECT DISTINCT patient_id FROM {S}.imaging_studies WHERE sha256 = :i"),
                                  {"i": old}).scalars().all()
            for patient_id in owners:
                key, new = keys(patient_id, create=True), None
                if key is not None:
                    new = blob_id(key, digest)
                    _put(bind, new, patient_id, row.size_bytes, seal_bytes(key, new, data), row.created_at)
                _move(bind, old, new, patient_id)
            bind.execute(sa.text(f"DELETE FROM {S}.imaging_blobs WHERE id = :i"), {"i": old})
        session.flush()


def open_blobs(bind: sa.Connection, cipher: FieldCipher) -> None:
    """Decrypt every sealed blob back to one plaintext row per file (keyed by its SHA-256, no patient)."""
    with Session(bind=bind) as session:
        keys = PatientKeys(session, cipher)
        rows = bind.execute(sa.text(f"SELECT id, patient_id FROM {S}.imaging_blobs WHERE patient_id IS NOT NULL")).all()
        for row_id, patient_id in rows:
            key = keys(patient_id, create=False)
            digest = None
            if key is not None:
                r = bind.execute(sa.text(f"SELECT size_bytes, data, created_at FROM {S}.imaging_blobs WHERE id = :i"),
                                 {"i": row_id}).one()
                data = open_bytes(key, row_id, r.data)
                digest = hashlib.sha256(data).hexdigest()
                _put(bind, digest, None, r.size_bytes, data, r.created_at)
            _move(bind, row_id, digest, None)
            bind.execute(sa.text(f"DELETE FROM {S}.imaging_blobs WHERE id = :i"), {"i": row_id})

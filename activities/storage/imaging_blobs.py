"""DICOM bytes at rest: sealed under the patient's data key, named by a per-patient keyed digest.

A DICOM header carries the patient's name, identifiers and birth date, so the file is sealed
like every other clinical field: AES-256-GCM under the patient's data key, stored as
``0x01 | nonce | ciphertext+tag``, with the associated data ``hms-field/v1|imaging_blobs|data|
<blob id>|<patient id>``, so a ciphertext moved to another row or patient fails to open.
Crypto-shredding the patient's key (erasure) makes their images unreadable with the rest.

The row's id is not the file's SHA-256 (a fingerprint anyone holding the file could look up,
linking patients across the store) but an HMAC of it under a key derived from the patient's
data key: the same file uploaded again for the same patient lands on the same row (retries and
re-uploads stay idempotent), the same file of two patients makes two unrelated rows, and once
the key is shredded nobody can tell which file a row held. The data key, unlike the shared
blind-index key, dies with the erasure; it is never rotated (rotation re-wraps it), so ids stay.

Every reader gets the bytes through ``read``; nothing else opens ``imaging_blobs.data``.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import NONCE, VERSION, DataKey, FieldCipher, FieldIntegrityError, NoDataKey
from activities.storage import sealed
from activities.storage.models_imaging import ImagingBlob

TABLE, COLUMN = "imaging_blobs", "data"
_ID_INFO = b"hms-imaging-blob-id/v1"
_HEX = frozenset("0123456789abcdef")


class BlobNotFound(LookupError):
    """No stored DICOM blob has that id."""


@dataclass(frozen=True)
class StagedBlob:
    #: The keyed id (64 hex digits): what the study row and the workflow history carry.
    blob_id: str
    #: The file's own SHA-256, for the uploader to check against; never stored.
    sha256: str
    size_bytes: int


def blob_id(key: DataKey, sha256_hex: str) -> str:
    """The row id of a file (by its SHA-256) for the key's patient: HMAC-SHA256 under a subkey of the DEK."""
    subkey = HKDF(algorithm=SHA256(), length=32, salt=None, info=_ID_INFO).derive(key.key)
    msg = f"{key.patient_id}|{sha256_hex.lower()}".encode()
    return hmac.new(subkey, msg, hashlib.sha256).hexdigest()


def _aad(row_id: str, patient_id: str) -> bytes:
    if "|" in row_id or "|" in patient_id:
        raise ValueError("blob id and patient id must not contain '|'")
    return "|".join(("hms-field/v1", TABLE, COLUMN, row_id, patient_id)).encode()


def seal_bytes(key: DataKey, row_id: str, data: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return VERSION + nonce + AESGCM(key.key).encrypt(nonce, data, _aad(row_id, key.patient_id))


def open_bytes(key: DataKey, row_id: str, blob: bytes) -> bytes:
    """The plaintext bytes; ``FieldIntegrityError`` for anything that is not this row's sealed value."""
    blob = bytes(blob)
    if blob[:1] != VERSION or len(blob) < 1 + NONCE + 16:
        raise FieldIntegrityError(f"{TABLE}.{COLUMN} of row {row_id} is not sealed")
    try:
        return AESGCM(key.key).decrypt(blob[1:1 + NONCE], blob[1 + NONCE:], _aad(row_id, key.patient_id))
    except InvalidTag as exc:
        raise FieldIntegrityError(f"{TABLE}.{COLUMN} of row {row_id} failed authentication "
                                  "(altered, or not this row's value)") from exc


def stage(session: Session, cipher: FieldCipher, patient_id: str, data: bytes) -> StagedBlob:
    """Store the patient's DICOM bytes sealed (once: a retried or repeated upload finds its row).

    ``DataErased`` for an erased patient (nothing is stored).
    """
    key = cipher.data_key(session, patient_id, create=True)
    digest = hashlib.sha256(data).hexdigest()
    row_id = blob_id(key, digest)
    if not _owned(session, patient_id, row_id):
        session.execute(insert(ImagingBlob).values(id=row_id, patient_id=patient_id, size_bytes=len(data),
                                                   data=seal_bytes(key, row_id, data))
                        .on_conflict_do_nothing(index_elements=["id"]))
    return StagedBlob(blob_id=row_id, sha256=digest, size_bytes=len(data))


def find(session: Session, cipher: FieldCipher, patient_id: str, ref: str) -> str | None:
    """The id of the patient's blob named by ``ref`` (its id, or the file's SHA-256), else None.

    Only the patient's own blobs are found: a file stored for someone else is not re-usable here.
    ``DataErased`` for an erased patient.
    """
    ref = ref.strip().lower()
    if len(ref) != 64 or not set(ref) <= _HEX:
        return None
    if _owned(session, patient_id, ref):
        return ref
    try:
        key = sealed.key_of(session, cipher, patient_id)
    except NoDataKey:
        return None
    row_id = blob_id(key, ref)
    return row_id if _owned(session, patient_id, row_id) else None


def read(session: Session, cipher: FieldCipher, row_id: str) -> bytes:
    """The DICOM bytes of a stored blob in the clear: the one function every reader goes through.

    ``BlobNotFound`` when absent, ``DataErased`` once the patient's key was shredded,
    ``FieldIntegrityError`` when the stored value was altered or moved.
    """
    row = session.execute(sa.select(ImagingBlob.patient_id, ImagingBlob.data)
                          .where(ImagingBlob.id == row_id)).first()
    if row is None:
        raise BlobNotFound(f"no stored study {row_id}")
    return open_bytes(sealed.key_of(session, cipher, row.patient_id), row_id, row.data)


def _owned(session: Session, patient_id: str, row_id: str) -> bool:
    return session.scalar(sa.select(sa.literal(True)).where(ImagingBlob.id == row_id,
                                                            ImagingBlob.patient_id == patient_id)) is not None

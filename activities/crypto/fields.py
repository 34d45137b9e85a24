"""Encryption at rest of identifying and clinical fields: AES-256-GCM under per-patient data keys.

Each encrypted column holds ``0x01 | nonce (12 bytes) | ciphertext+tag``. The associated
data binds the ciphertext to where it belongs: ``hms-field/v1|<table>|<column>|<row
id>|<patient id>``, so a value copied to another row, column or patient does not
decrypt. Each patient has one data key (DEK), stored only wrapped by a key-encryption
key (``activities.crypto.kms``); rotation re-wraps DEKs and leaves the data untouched,
and erasure destroys the wrapped DEK, after which the patient's fields are unreadable.

Equality lookups on encrypted identifiers use a keyed blind index: HMAC-SHA256 under a
separate index key, which reveals nothing about the value without that key.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from activities.crypto import dek_store
from activities.crypto.kms import FileKms, Kms, MemoryKms

VERSION = b"\x01"
NONCE = 12
log = logging.getLogger(__name__)


class DataErased(Exception):
    """The patient's data key was shredded: their encrypted fields can no longer be read."""

    def __init__(self, patient_id: str, erased_at: datetime | None) -> None:
        self.patient_id, self.erased_at = patient_id, erased_at
        when = f" on {erased_at.date().isoformat()}" if erased_at else ""
        super().__init__(f"the record of patient {patient_id} was erased{when} at the patient's request "
                         "(its data key was destroyed); it can no longer be read")


class NoDataKey(LookupError):
    """The patient has no data key (a row written outside the store's functions)."""


class FieldIntegrityError(ValueError):
    """A ciphertext failed authentication: altered, or moved to another row, column or patient."""


@dataclass(frozen=True)
class DataKey:
    patient_id: str
    key: bytes = field(repr=False)


class FieldCipher:
    """Seals and opens fields with per-patient data keys; computes blind indexes.

    Unwrapped data keys are cached per (patient, KEK id, wrapped bytes): every read still
    fetches the wrapped key row, so a shredded key is never served from the cache.
    """

    def __init__(self, kms: Kms, index_key: bytes, *, cache_size: int = 4096) -> None:
        if len(index_key) < 32:
            raise ValueError("the blind-index key must be at least 32 bytes")
        self.kms, self._index_key, self._cache_size = kms, index_key, cache_size
        self._cache: OrderedDict[tuple[str, str, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def blind_index(self, system: str, value: str) -> bytes:
        """The keyed index of an identifier (system and value, length-prefixed so no two pairs collide)."""
        msg = f"hms-blind-index/v1|identifier|{len(system)}:{system}|{value}".encode()
        return hmac.new(self._index_key, msg, hashlib.sha256).digest()

    def successor_id(self, patient_id: str) -> str:
        """A deterministic fresh id for a person registering again after their record was erased."""
        digest = hmac.new(self._index_key, f"hms-successor/v1|{patient_id}".encode(), hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def data_key(self, session: Session, patient_id: str, *, create: bool = False) -> DataKey:
        """The patient's unwrapped data key (created if ``create``); ``DataErased`` once shredded."""
        stored = dek_store.stored_key(session, patient_id)
        if stored is None and create:
            stored = dek_store.create_key(session, self.kms, patient_id)
        if stored is None:
            raise NoDataKey(f"patient {patient_id} has no data key")
        return self.key_from(stored)

    def key_from(self, stored: dek_store.StoredKey) -> DataKey:
        """The unwrapped data key of a key row the caller fetched itself; ``DataErased`` once shredded."""
        if stored.wrapped is None or stored.kek_id is None:
            raise DataErased(stored.patient_id, stored.shredded_at)
        return DataKey(stored.patient_id, self._unwrap(stored.patient_id, stored.kek_id, stored.wrapped))

    def encrypt(self, key: DataKey, table: str, column: str, row_id: str, plaintext: str) -> bytes:
        nonce = os.urandom(NONCE)
        aad = _aad(table, column, row_id, key.patient_id)
        return VERSION + nonce + AESGCM(key.key).encrypt(nonce, plaintext.encode(), aad)

    def decrypt(self, key: DataKey, table: str, column: str, row_id: str, blob: bytes) -> str:
        blob = bytes(blob)
        if blob[:1] != VERSION or len(blob) < 1 + NONCE + 16:
            raise FieldIntegrityError(f"{table}.{column} of row {row_id} is not an encrypted field")
        try:
            plain = AESGCM(key.key).decrypt(blob[1:1 + NONCE], blob[1 + NONCE:],
                                            _aad(table, column, row_id, key.patient_id))
        except InvalidTag as exc:
            raise FieldIntegrityError(f"{table}.{column} of row {row_id} failed authentication "
                                      "(altered, or not this row's value)") from exc
        return plain.decode()

    def forget(self, patient_id: str) -> None:
        """Drop any cached unwrapped key of the patient (after shredding it)."""
        with self._lock:
            for k in [k for k in self._cache if k[0] == patient_id]:
                del self._cache[k]

    def _unwrap(self, patient_id: str, kek_id: str, wrapped: bytes) -> bytes:
        ck = (patient_id, kek_id, bytes(wrapped))
        with self._lock:
            hit = self._cache.get(ck)
            if hit is not None:
                self._cache.move_to_end(ck)
                return hit
        dek = self.kms.unwrap(kek_id, bytes(wrapped), dek_store.wrap_context(patient_id))
        with self._lock:
            self._cache[ck] = dek
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return dek


def _aad(table: str, column: str, row_id: str, patient_id: str) -> bytes:
    parts = (table, column, row_id, patient_id)
    if any("|" in p for p in parts):
        raise ValueError("table, column, row id and patient id must not contain '|'")
    return "|".join(("hms-field/v1", *parts)).encode()


def load_or_create_key(path: Path) -> bytes:
    """32 random bytes in a 0600 file, created atomically (two processes starting together agree)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} must hold exactly 32 bytes")
    return key


def file_cipher(keys_dir: Path) -> FieldCipher:
    """The embedded default: KEKs in ``keys/kek.json``, the blind-index key in ``keys/blind-index.key``."""
    return FieldCipher(FileKms(keys_dir / "kek.json"), load_or_create_key(keys_dir / "blind-index.key"))


@cache
def ephemeral_cipher() -> FieldCipher:
    """One in-memory cipher per process, for tests and services built without key files.

    Its keys vanish with the process: the composition root (``deploy.wiring.field_cipher``)
    always passes the file-backed cipher instead.
    """
    log.warning("field encryption uses ephemeral in-memory keys: data written now is unreadable after exit")
    return FieldCipher(MemoryKms(), os.urandom(32))

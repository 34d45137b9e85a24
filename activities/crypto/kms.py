"""Key-encryption keys: the ``Kms`` port that wraps per-patient data keys, and its key-file implementation.

A data key (DEK) never leaves a process unwrapped: the database stores it wrapped by a
key-encryption key (KEK) named by id. Production deployments put the KEK in a KMS
(AWS KMS, Google Cloud KMS, Vault Transit, an HSM) behind the same four calls; the
embedded default keeps a ring of AES-256 KEKs in ``$HMS_HOME/keys/kek.json`` (0600).

Rotation adds a KEK and makes it active; older KEKs stay in the ring so every data key
wrapped under them still unwraps until ``hms keys rotate`` has re-wrapped it. The
wrapping is AES-256-GCM whose associated data names the patient and the KEK, so a
wrapped key moved to another patient's row (or relabelled with another KEK) is refused.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities.crypto.keyring import KeyRingFile, UnknownKey

NONCE = 12


class KeyUnavailable(Exception):
    """A wrapped data key names a KEK this KMS does not hold, or failed authentication."""


@runtime_checkable
class Kms(Protocol):
    """What the field cipher needs of a key-management service (the key-encryption key's holder)."""

    def active_id(self) -> str:
        """The id of the KEK new data keys are wrapped with."""
        ...

    def wrap(self, dek: bytes, context: bytes) -> tuple[str, bytes]:
        """Wrap ``dek`` with the active KEK, bound to ``context``; returns (KEK id, wrapped bytes)."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """The data key wrapped by ``kek_id`` under ``context``; raises ``KeyUnavailable``."""
        ...

    def rotate(self) -> str:
        """Create a new KEK and make it active (old ones stay usable for unwrapping); returns its id."""
        ...


#: The abstract key-encryption key is the KMS port; the names are interchangeable.
KeyEncryptionKey = Kms


class FileKms:
    """KEKs in a ``KeyRingFile`` (prefix ``kek``); a rotation by another process is picked up on the next wrap.

    The ring file is replaced atomically on rotation; before wrapping, this process
    compares the file's identity (inode, size, mtime) with the one it loaded and
    re-reads it when it changed, so no process keeps wrapping new data keys with a
    KEK that has been rotated out. Unwrapping an unknown KEK id re-reads the file too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ring = KeyRingFile(path, "kek")
        self._stamp = self._file_stamp()

    def active_id(self) -> str:
        self._refresh()
        return self._ring.ring.active_id

    def wrap(self, dek: bytes, context: bytes) -> tuple[str, bytes]:
        self._refresh()
        kek_id, kek = self._ring.ring.active()
        nonce = os.urandom(NONCE)
        return kek_id, nonce + AESGCM(kek).encrypt(nonce, dek, _aad(kek_id, context))

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        try:
            kek = self._ring.key(kek_id)
            return AESGCM(kek).decrypt(wrapped[:NONCE], wrapped[NONCE:], _aad(kek_id, context))
        except UnknownKey as exc:
            raise KeyUnavailable(f"no key-encryption key {kek_id!r} in {self.path}") from exc
        except InvalidTag as exc:
            raise KeyUnavailable(f"a data key wrapped by {kek_id!r} failed authentication") from exc

    def rotate(self) -> str:
        with self._lock:
            ring = self._ring.rotate()
            self._stamp = self._file_stamp()
        return ring.active_id

    def key_ids(self) -> list[str]:
        self._refresh()
        return sorted(self._ring.ring.keys)

    def _refresh(self) -> None:
        stamp = self._file_stamp()
        if stamp != self._stamp:
            with self._lock:
                self._ring, self._stamp = KeyRingFile(self.path, "kek"), stamp

    def _file_stamp(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return st.st_ino, st.st_size, st.st_mtime_ns


def _aad(kek_id: str, context: bytes) -> bytes:
    return b"hms-dek-wrap/v1|" + kek_id.encode() + b"|" + context


class MemoryKms:
    """KEKs held only in this process: for tests and one-process tools (lost when the process exits)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._active = ""
        self.rotate()

    def active_id(self) -> str:
        return self._active

    def wrap(self, dek: bytes, context: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE)
        return self._active, nonce + AESGCM(self._keys[self._active]).encrypt(nonce, dek, _aad(self._active, context))

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        kek = self._keys.get(kek_id)
        if kek is None:
            raise KeyUnavailable(f"no key-encryption key {kek_id!r} in this process")
        try:
            return AESGCM(kek).decrypt(wrapped[:NONCE], wrapped[NONCE:], _aad(kek_id, context))
        except InvalidTag as exc:
            raise KeyUnavailable(f"a data key wrapped by {kek_id!r} failed authentication") from exc

    def rotate(self) -> str:
        self._active = f"kek-mem-{os.urandom(4).hex()}"
        self._keys[self._active] = AESGCM.generate_key(bit_length=256)
        return self._active

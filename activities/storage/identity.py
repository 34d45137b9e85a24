"""Keyed, stable patient ids.

A patient's id is derived from their first identifier with a keyed HMAC, so two
concurrent registrations of the same person converge on one row, while the id
(which appears in the ledger and in Temporal search attributes) reveals nothing
about the identifier without the key.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from pathlib import Path


def load_or_create_index_key(path: Path) -> bytes:
    """32 random bytes kept in a 0600 file under ``$HMS_HOME/keys``."""
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{path} must hold exactly 32 bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def patient_id_for(key: bytes, system: str, value: str) -> str:
    digest = hmac.new(key, f"patient|{system}|{value}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def admission_encounter_id(key: bytes, patient_id: str, request_key: str) -> str:
    """The encounter id of an admission request: the same request (``request_key``: an idempotency key, or the
    request itself with the day) for the same patient gives the same stay, whichever door it came through."""
    digest = hmac.new(key, f"admission|{patient_id}|{request_key}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))

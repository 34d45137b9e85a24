"""A ring of AES-256 keys in one 0600 JSON file under ``$HMS_HOME/keys``: one active, older ones kept to decrypt.

Created atomically on first use (two processes starting together agree on one ring);
rotation adds a key and makes it active with an atomic replace, so readers never see
a half-written file. A process that meets a key id it does not know re-reads the file
once, so data encrypted after a rotation elsewhere is still readable here.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path


class UnknownKey(KeyError):
    """Data names a key id that no ring on this machine holds (or the key file was replaced)."""


@dataclass(frozen=True)
class KeyRing:
    active_id: str
    keys: dict[str, bytes] = field(repr=False)

    def active(self) -> tuple[str, bytes]:
        return self.active_id, self.keys[self.active_id]

    def to_json(self) -> str:
        return json.dumps({"active": self.active_id,
                           "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        raw = json.loads(text)
        keys = {k: base64.b64decode(v) for k, v in raw["keys"].items()}
        if raw["active"] not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError("key ring: the active key must exist and every key must be 32 bytes")
        return cls(active_id=raw["active"], keys=keys)

    @classmethod
    def generate(cls, prefix: str) -> KeyRing:
        key_id = f"{prefix}-{secrets.token_hex(4)}"
        return cls(active_id=key_id, keys={key_id: secrets.token_bytes(32)})

    def rotated(self, prefix: str) -> KeyRing:
        key_id = f"{prefix}-{secrets.token_hex(4)}"
        return KeyRing(active_id=key_id, keys={**self.keys, key_id: secrets.token_bytes(32)})


class KeyRingFile:
    """The ring stored at ``path``, loaded (or created) once and re-read when an unknown key id is asked for."""

    def __init__(self, path: Path, prefix: str) -> None:
        self.path, self._prefix = path, prefix
        self._lock = threading.Lock()
        self._ring = self._load_or_create()

    @property
    def ring(self) -> KeyRing:
        return self._ring

    def key(self, key_id: str) -> bytes:
        key = self._ring.keys.get(key_id)
        if key is None:
            with self._lock:
                self._ring = KeyRing.from_json(self.path.read_text())
            key = self._ring.keys.get(key_id)
        if key is None:
            raise UnknownKey(key_id)
        return key

    def rotate(self) -> KeyRing:
        """Add a new active key (old keys stay for decryption) and write the ring atomically."""
        with self._lock:
            ring = KeyRing.from_json(self.path.read_text()).rotated(self._prefix)
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
            _write_private(tmp, ring.to_json())
            os.replace(tmp, self.path)
            self._ring = ring
        return ring

    def _load_or_create(self) -> KeyRing:
        if self.path.exists():
            return KeyRing.from_json(self.path.read_text())
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        ring = KeyRing.generate(self._prefix)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        _write_private(tmp, ring.to_json())
        try:
            os.link(tmp, self.path)  # atomic: fails if another process created the ring first
        except FileExistsError:
            return KeyRing.from_json(self.path.read_text())
        finally:
            tmp.unlink()
        return ring


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())

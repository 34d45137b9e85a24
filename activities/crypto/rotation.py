"""Key rotation: a new key-encryption key, then every patient's data key re-wrapped under it.

No field is re-encrypted: data keys stay the same, only their wrapping changes. The
stack keeps running meanwhile: re-wrapping goes in small batches, each its own short
transaction that locks only the rows it rewrites (readers never wait; rows locked by a
concurrent erasure are skipped and picked up by a later pass). Older KEKs stay in the
ring, so a data key is readable under its old wrapping until it has been re-wrapped,
and anything a running process wraps with the old KEK in the moment of rotation is
still readable and re-wrapped by ``--resume``. Re-running is safe: it finishes whatever
an interrupted run left (``resume``) or rotates again.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from activities.crypto import dek_store
from activities.crypto.kms import Kms


@dataclass
class RotationReport:
    #: The KEK every live data key is wrapped by now.
    kek_id: str
    rewrapped: int
    #: Live data keys per KEK after the run (``shredded`` counts erased patients).
    by_kek: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return set(self.by_kek) <= {self.kek_id, "shredded"}


def rewrap_all(sessions: Callable[[], Session], kms: Kms, *, batch: int = 200, patience: float = 30.0) -> int:
    """Re-wrap every live data key not under the active KEK; returns how many were re-wrapped."""
    total, waited = 0, 0.0
    while True:
        with sessions() as s, s.begin():
            done = dek_store.rewrap_batch(s, kms, batch)
        total += done.rewrapped
        if done.seen:
            continue
        with sessions() as s:
            left = dek_store.pending(s, kms.active_id())
        if left == 0:
            return total
        if waited >= patience:  # rows held by long transactions elsewhere: leave them for --resume
            return total
        time.sleep(0.2)
        waited += 0.2


def rotate_keys(sessions: Callable[[], Session], kms: Kms, *, new_key: bool = True,
                batch: int = 200) -> RotationReport:
    """Make a new KEK active (unless ``new_key`` is False: finish an earlier run) and re-wrap every data key."""
    if new_key:
        kms.rotate()
    rewrapped = rewrap_all(sessions, kms, batch=batch)
    with sessions() as s:
        by_kek = dek_store.keys_by_kek(s)
    return RotationReport(kek_id=kms.active_id(), rewrapped=rewrapped, by_kek=by_kek)

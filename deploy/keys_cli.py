"""``hms keys rotate|status``: the key-encryption key of encryption at rest, rotated without downtime.

``rotate`` adds a KEK to ``$HMS_HOME/keys/kek.json`` (the old ones stay, so nothing
becomes unreadable), then re-wraps every patient's data key under it while the stack
keeps serving; ``--resume`` only finishes the re-wrapping of an interrupted run.
"""
from __future__ import annotations

import sys

from activities.crypto.kms import KeyUnavailable
from activities.crypto.rotation import RotationReport, rotate_keys
from activities.storage.db import make_session_factory
from deploy import wiring
from deploy.settings import Settings


def rotate(settings: Settings, *, resume: bool = False) -> RotationReport:
    """What ``hms keys rotate`` does; returns the report it prints."""
    engine = wiring.database_engine(settings, pool_size=2)
    try:
        return rotate_keys(make_session_factory(engine), wiring.field_cipher(settings).kms, new_key=not resume)
    finally:
        engine.dispose()


def rotate_command(settings: Settings, *, resume: bool = False) -> int:
    try:
        report = rotate(settings, resume=resume)
    except KeyUnavailable as exc:
        print(f"hms keys rotate: {exc}; nothing after it was re-wrapped", file=sys.stderr)
        return 1
    print(f"key-encryption key {report.kek_id} is active; {report.rewrapped} data key(s) re-wrapped")
    for kek_id, n in sorted(report.by_kek.items()):
        print(f"  {kek_id}: {n}")
    if not report.complete:
        print("some data keys are still wrapped by an older key (rows busy elsewhere): run "
              "`hms keys rotate --resume`", file=sys.stderr)
        return 1
    return 0


def status_command(settings: Settings) -> int:
    from activities.crypto import dek_store

    engine = wiring.database_engine(settings, pool_size=1)
    try:
        with make_session_factory(engine)() as s:
            by_kek = dek_store.keys_by_kek(s)
    finally:
        engine.dispose()
    kms = wiring.field_cipher(settings).kms
    print(f"active key-encryption key: {kms.active_id()}")
    for kek_id, n in sorted(by_kek.items()):
        print(f"  {kek_id}: {n} data key(s)")
    return 0

"""Migration 0901 on a database that already holds DICOM blobs in the clear, keyed by their SHA-256.

Without the keys it refuses and changes nothing. With the field cipher it seals each file once
per patient whose studies point at it (a file shared by two patients becomes two unrelated rows),
drops an erased patient's file and a file no study points at, and leaves no header or hash in
the clear; the downgrade opens the rows back into one plaintext row per file.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from activities.crypto import dek_store
from activities.crypto.fields import file_cipher
from activities.storage import imaging_blobs
from activities.storage.db import make_session_factory
from activities.storage.migrate import alembic_config, upgrade
from activities.storage.sealing_migration import PlaintextRowsPresent
from deploy.demo_orders import synthetic_dicom
from tests.conftest import create_database
from tests.integration.imaging.helpers import with_patient
from tests.integration.security.test_encryption_at_rest import scan

pytestmark = pytest.mark.integration

NAME, ERASED_NAME, ORPHAN_NAME = "Torvanger^Elsabet", "Quimbrell^Osk", "Haveldane^Rune"
NEEDLES = ["Torvanger", "Quimbrell", "Haveldane", "MRN-MIG-"]


def _seed_plaintext(engine: sa.Engine, cipher) -> dict[str, object]:  # noqa: ANN001
    """Patients A and B share a file; C (erased) has one; one file has no study: all as stored before 0901."""
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    shared = with_patient(synthetic_dicom("CR", 1), NAME, "MRN-MIG-1", "19440101")
    erased = with_patient(synthetic_dicom("CR", 2), ERASED_NAME, "MRN-MIG-2", "19440102")
    orphan = with_patient(synthetic_dicom("CR", 3), ORPHAN_NAME, "MRN-MIG-3", "19440103")
    sha = {k: hashlib.sha256(v).hexdigest() for k, v in (("shared", shared), ("erased", erased), ("orphan", orphan))}
    with make_session_factory(engine)() as s, s.begin():
        for pid in (a, b, c):
            cipher.data_key(s, pid, create=True)
        dek_store.shred(s, c, "erasure-before-0901", datetime.now(UTC))
    with engine.begin() as conn:
        for key, data in (("shared", shared), ("erased", erased), ("orphan", orphan)):
            conn.execute(sa.text("INSERT INTO hms.imaging_blobs (sha256, size_bytes, data) VALUES (:s, :n, :d)"),
                         {"s": sha[key], "n": len(data), "d": data})
        for pid, file in ((a, "shared"), (b, "shared"), (c, "erased")):
            conn.execute(sa.text(
                "INSERT INTO hms.imaging_orders (id, patient_id, encounter_id, journey_id, workflow_id, modality, "
                "body_site, priority, reason_code, requested_by, status, sla_breaches) VALUES (:o, :p, :p, 'j', 'w', "
                "'CR', 'chest', 'routine', 'R05', 'attending-1', 'active', 0)"), {"o": f"o-{pid}", "p": pid})
            conn.execute(sa.text(
                "INSERT INTO hms.imaging_studies (id, order_id, patient_id, sha256, size_bytes, ai_status) "
                "VALUES (:i, :o, :p, :s, 1, 'pending')"), {"i": f"s-{pid}", "o": f"o-{pid}", "p": pid, "s": sha[file]})
    return {"a": a, "b": b, "c": c, "shared": shared, "sha": sha}


def _studies(engine: sa.Engine) -> dict[str, str | None]:
    with engine.connect() as c:
        return dict(c.execute(sa.text("SELECT patient_id, sha256 FROM hms.imaging_studies")).all())


def test_0901_refuses_without_keys_then_seals_blobs_per_patient_and_opens_them_on_downgrade(
        pg_server_url: str, tmp_path: Path) -> None:
    url = create_database(pg_server_url)
    command.upgrade(alembic_config(url), "0801")
    cipher = file_cipher(tmp_path / "keys")
    engine = sa.create_engine(url)
    seeded = _seed_plaintext(engine, cipher)
    a, b, c, sha = seeded["a"], seeded["b"], seeded["c"], seeded["sha"]

    with pytest.raises(PlaintextRowsPresent, match=r"hms\.imaging_blobs\.data: 3 row\(s\).*field cipher"):
        upgrade(url, revision="0901")
    assert _studies(engine) == {a: sha["shared"], b: sha["shared"], c: sha["erased"]}  # nothing changed

    upgrade(url, revision="0901", cipher=cipher)
    studies = _studies(engine)
    assert studies[c] is None  # the erased patient's file could not be sealed: it is gone
    assert len({studies[a], studies[b], sha["shared"]}) == 3  # one row each, neither named by the file's hash
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, patient_id FROM hms.imaging_blobs")).all())
    assert rows == {studies[a]: a, studies[b]: b}  # the orphan is gone too
    assert scan(engine, NEEDLES + list(sha.values())) == []
    with make_session_factory(engine)() as s:
        for pid in (a, b):
            assert imaging_blobs.read(s, cipher, studies[pid]) == seeded["shared"]
            assert imaging_blobs.find(s, cipher, pid, sha["shared"]) == studies[pid]  # re-uploads find the row

    downgrade = alembic_config(url)
    downgrade.attributes["field_cipher"] = cipher
    command.downgrade(downgrade, "0901-1")
    assert _studies(engine) == {a: sha["shared"], b: sha["shared"], c: None}
    with engine.connect() as conn:
        [(key, data)] = conn.execute(sa.text("SELECT sha256, data FROM hms.imaging_blobs")).all()
    assert key == sha["shared"] and bytes(data) == seeded["shared"]
    engine.dispose()

"""Migration 0908: FHIR-posted charges whose idempotency key held the identifier in the clear.

Without the keys it refuses and changes nothing; with the field cipher each old key becomes the
blind-index key a resend computes today, so the resend finds its charge instead of doubling it.
"""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from activities.crypto.fields import ephemeral_cipher
from activities.storage import identifiers_repo
from activities.storage.migrate import alembic_config, upgrade
from activities.storage.sealing_migration import PlaintextRowsPresent
from tests.conftest import create_database

pytestmark = pytest.mark.integration


def test_0908_keys_old_fhir_charges_by_blind_index(pg_server_url: str) -> None:
    url = create_database(pg_server_url)
    command.upgrade(alembic_config(url), "0907")
    accession = f"ACC-{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO hms.wards (id, name) VALUES ('medical', 'Medical') ON CONFLICT DO NOTHING"))
            c.execute(sa.text(
                "INSERT INTO hms.charge_items (id, idempotency_key, encounter_id, patient_id, journey_id, code, "
                "description, quantity, unit_price, amount, currency, source, source_id, occurred_at) VALUES "
                "('charge-old', :k, 'e-1', 'p-1', 'j-1', 'IMG-XR', 'X-ray', 1, 450, 450, 'INR', 'fhir', :v, now()), "
                "('charge-stage', 'imaging:study-o-1', 'e-1', 'p-1', 'j-1', 'IMG-XR', 'X-ray', 1, 450, 450, 'INR', "
                "'imaging', 'o-1', now())"), {"k": f"fhir|urn:lab:accession|{accession}", "v": accession})
        with pytest.raises(PlaintextRowsPresent):
            upgrade(url)
        cipher = ephemeral_cipher()
        upgrade(url, cipher=cipher)
        with engine.connect() as c:
            rows = dict(c.execute(sa.text("SELECT id, idempotency_key || ' ' || source_id FROM hms.charge_items")).all())
        expected = identifiers_repo.charge_key(cipher, "urn:lab:accession", accession)
        assert rows["charge-old"] == f"{expected} {expected.split('|', 1)[1]}"
        assert rows["charge-stage"] == "imaging:study-o-1 o-1"  # the journeys' own keys name no identifier
        assert not any(accession in v for v in rows.values())
    finally:
        engine.dispose()

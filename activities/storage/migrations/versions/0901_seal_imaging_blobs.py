"""seal DICOM blobs: per-patient rows, AES-256-GCM under the patient's data key, keyed ids

``imaging_blobs`` gains ``patient_id``; its key ``sha256`` (the file's plain SHA-256, a
fingerprint shared across patients) becomes ``id``, an HMAC of that hash under a key derived
from the patient's data key; ``data`` holds the file sealed with the associated data
``hms-field/v1|imaging_blobs|data|<id>|<patient id>`` (``activities.storage.imaging_blobs``).
``imaging_studies.sha256`` keeps its name and now holds the blob's id.

Blobs already stored are sealed here when the migration is given the field cipher of
``$HMS_HOME/keys`` (``hms migrate`` does; ``activities.storage.migrate.upgrade(url,
cipher=file_cipher(keys_dir))`` reaches this script as ``context.config.attributes
["field_cipher"]``). Without it a database holding blobs is refused and nothing changes. A file
shared by studies of several patients becomes one row per patient; an erased patient's file and
a file no study points at are deleted (``activities.storage.imaging_blob_migration``). Run
``VACUUM FULL hms.imaging_blobs`` afterwards so no dead tuple keeps the old bytes on disk.

Revision ID: 0901
Revises: 0801 (clinical fields sealed)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from activities.storage.imaging_blob_migration import count, open_blobs, seal_blobs
from activities.storage.sealing_migration import PlaintextRowsPresent, refusal

revision = "0901"
down_revision = "0801"
branch_labels = None
depends_on = None

S = "hms"
INDEX = "ix_hms_imaging_blobs_patient_id"


def _cipher():  # noqa: ANN202 (a FieldCipher, or None when the caller gave no keys)
    return context.config.attributes.get("field_cipher")


def upgrade() -> None:
    bind, cipher = op.get_bind(), _cipher()
    held = int(bind.execute(sa.text(f"SELECT count(*) FROM {S}.imaging_blobs")).scalar() or 0)
    if held and cipher is None:
        raise PlaintextRowsPresent(refusal("upgrade", {"imaging_blobs.data": held}))
    op.alter_column("imaging_blobs", "sha256", new_column_name="id", schema=S)
    op.add_column("imaging_blobs", sa.Column("patient_id", sa.String(36), nullable=True), schema=S)
    if held:
        seal_blobs(bind, cipher)
    op.alter_column("imaging_blobs", "patient_id", nullable=False, schema=S)
    op.create_index(INDEX, "imaging_blobs", ["patient_id"], schema=S)


def downgrade() -> None:
    bind, cipher = op.get_bind(), _cipher()
    held = count(bind, sealed=True)
    if held and cipher is None:
        raise PlaintextRowsPresent(refusal("downgrade", {"imaging_blobs.data": held}))
    op.drop_index(INDEX, table_name="imaging_blobs", schema=S)
    op.alter_column("imaging_blobs", "patient_id", nullable=True, schema=S)
    if held:
        open_blobs(bind, cipher)
    op.drop_column("imaging_blobs", "patient_id", schema=S)
    op.alter_column("imaging_blobs", "id", new_column_name="sha256", schema=S)

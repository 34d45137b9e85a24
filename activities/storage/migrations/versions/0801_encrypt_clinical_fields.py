"""encrypt clinical fields: stay reasons, task details, triage, intake, imaging and pharmacy text, access reasons

Each column listed in ``COLUMNS`` becomes ``bytea`` holding
AES-256-GCM under the patient's data key, with the same associated data as demographics
(``hms-field/v1|table|column|row id|patient id``); a task's details keep their routing keys
in the clear and move the rest into ``tasks.details_enc``. Codes stay in the clear where
queries, checks and the operations views compute on them (drug and allergen codes, modality,
findings codes, triage category, tariff codes and descriptions, which name services, not
diagnoses); vital-sign numbers stay with triage (already-encrypted FHIR Observations are not
touched).

Rows already stored are encrypted here when the migration is given the field cipher of
``$HMS_HOME/keys`` (``activities.storage.migrate.upgrade(url, cipher=file_cipher(keys_dir))``,
which reaches this script as ``context.config.attributes["field_cipher"]``). Without it, a
database holding such rows is refused, naming them, and nothing changes; an empty database
needs no keys. Rows of an erased patient cannot be sealed (their key is gone): their text is
dropped, as the erasure intended. Run ``VACUUM FULL`` on the converted tables afterwards so no
dead tuple keeps the old plaintext on disk.

Revision ID: 0801
Revises: 0712 (triage, data keys and legal holds, task events)
Depends on: 0201 (imaging), 0301 (pharmacy), 0401 (billing), 0511 (break-glass, corrections)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from activities.storage.sealing_migration import (
    Column,
    PlaintextRowsPresent,
    from_bytea,
    open_rows,
    refusal,
    rows_to_convert,
    seal_rows,
    to_bytea,
)

revision = "0801"
down_revision = "0712"
branch_labels = None
depends_on = ("0201", "0301", "0401", "0511")

S = "hms"
#: The columns sealed by this revision (frozen: a later column is a later revision).
COLUMNS = (
    Column("encounters", "reason", "text", "varchar(500)"),
    Column("intake_drafts", "complaint", "text", "varchar(500)"),
    Column("intake_drafts", "answers", "json", "jsonb"),
    Column("triage_assessments", "override_reason", "text", "varchar(500)"),
    Column("break_glass_grants", "reason", "text", "text"),
    Column("break_glass_grants", "review_comment", "text", "text"),
    Column("legal_holds", "reason", "text", "varchar(500)"),
    Column("diagnostic_reports", "impression", "text", "text"),
    Column("diagnostic_reports", "conclusion", "text", "text"),
    Column("medication_orders", "hits", "json", "jsonb"),
    Column("medication_orders", "status_reason", "text", "varchar(500)"),
    Column("medication_administrations", "reason", "text", "varchar(500)"),
    Column("allergy_intolerances", "reaction", "text", "varchar(60)"),
)


def _cipher():  # noqa: ANN202 (a FieldCipher, or None when the caller gave no keys)
    return context.config.attributes.get("field_cipher")


def upgrade() -> None:
    bind, cipher = op.get_bind(), _cipher()
    held = rows_to_convert(bind, COLUMNS, tasks=True)
    if held and cipher is None:
        raise PlaintextRowsPresent(refusal("upgrade", held))
    to_bytea(bind, COLUMNS)
    op.add_column("tasks", sa.Column("details_enc", sa.LargeBinary(), nullable=True), schema=S)
    if held:
        seal_rows(bind, cipher, COLUMNS, tasks=True)


def downgrade() -> None:
    bind, cipher = op.get_bind(), _cipher()
    held = rows_to_convert(bind, COLUMNS, tasks=False)
    held.update({"tasks.details_enc": n} if (n := bind.execute(sa.text(
        f"SELECT count(*) FROM {S}.tasks WHERE details_enc IS NOT NULL")).scalar()) else {})
    if held and cipher is None:
        raise PlaintextRowsPresent(refusal("downgrade", held))
    if held:
        open_rows(bind, cipher, COLUMNS, tasks=True)
    op.drop_column("tasks", "details_enc", schema=S)
    from_bytea(bind, COLUMNS)

"""encryption at rest: encrypted demographics, identifiers and note text; wrapped data keys; legal holds

Patient demographics, identifier values and clinical note text become ``bytea``
(AES-256-GCM under per-patient data keys); identifiers gain a keyed blind index for
lookups. The keys live outside the database, so this migration cannot encrypt rows
already stored in plaintext: it refuses, naming the tables, when any exist.

Revision ID: 0601
Revises: 0002
Depends on: 0501 (clinical notes)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0601"
down_revision = "0002"
branch_labels = ("encryption",)
depends_on = ("0501",)

S = "hms"
TS = sa.DateTime(timezone=True)
PLAINTEXT_TABLES = ("patients", "patient_identifiers", "clinical_notes")


class PlaintextRowsPresent(RuntimeError):
    """The database holds patient data written before encryption at rest."""


def _refuse_existing_rows(direction: str) -> None:
    bind = op.get_bind()
    counts = {t: bind.execute(sa.text(f"SELECT count(*) FROM {S}.{t}")).scalar() for t in PLAINTEXT_TABLES}
    held = {t: n for t, n in counts.items() if n}
    if held:
        rows = ", ".join(f"{S}.{t}: {n} row(s)" for t, n in held.items())
        raise PlaintextRowsPresent(
            f"encryption at rest ({direction}) needs empty patient tables, but found {rows}. Their fields cannot "
            "be converted here (the keys live outside the database). This is a pre-release schema change: start "
            "from an empty database (stop the stack and remove $HMS_HOME/pg, or drop the database) and migrate "
            "again.")


def upgrade() -> None:
    _refuse_existing_rows("upgrade")
    for column, source in (("given", "given"), ("family", "family"), ("birth_date", "birth_date::text"),
                           ("gender", "gender")):
        op.execute(f"ALTER TABLE {S}.patients ALTER COLUMN {column} TYPE bytea USING convert_to({source}, 'UTF8')")
    op.drop_constraint("uq_patient_identifiers_system_value", "patient_identifiers", schema=S)
    op.execute(f"ALTER TABLE {S}.patient_identifiers ALTER COLUMN value TYPE bytea USING convert_to(value, 'UTF8')")
    op.add_column("patient_identifiers", sa.Column("value_index", sa.LargeBinary(32), nullable=False), schema=S)
    op.create_unique_constraint("uq_patient_identifiers_system_value_index", "patient_identifiers",
                                ["system", "value_index"], schema=S)
    op.execute(f"ALTER TABLE {S}.clinical_notes ALTER COLUMN text TYPE bytea USING convert_to(text, 'UTF8')")

    op.create_table(
        "patient_keys",
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("kek_id", sa.String(80), nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("rewrapped_at", TS, nullable=True),
        sa.Column("shredded_at", TS, nullable=True),
        sa.Column("erasure_id", sa.String(120), nullable=True),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_keys")),
        sa.CheckConstraint("(wrapped_dek IS NULL) = (shredded_at IS NOT NULL)",
                           name=op.f("ck_patient_keys_wrapped_unless_shredded")),
        schema=S,
    )
    op.create_index("ix_hms_patient_keys_kek_id", "patient_keys", ["kek_id"], schema=S)
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("placed_by", sa.String(60), nullable=False),
        sa.Column("placed_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("released_by", sa.String(60), nullable=True),
        sa.Column("released_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
        schema=S,
    )
    op.create_index(op.f("ix_hms_legal_holds_patient_id"), "legal_holds", ["patient_id"], schema=S)
    op.create_index("ix_hms_legal_holds_active", "legal_holds", ["patient_id"], schema=S,
                    postgresql_where=sa.text("released_at IS NULL"))


def downgrade() -> None:
    _refuse_existing_rows("downgrade")
    op.drop_table("legal_holds", schema=S)
    op.drop_table("patient_keys", schema=S)
    op.execute(f"ALTER TABLE {S}.clinical_notes ALTER COLUMN text TYPE text USING convert_from(text, 'UTF8')")
    op.drop_constraint("uq_patient_identifiers_system_value_index", "patient_identifiers", schema=S)
    op.drop_column("patient_identifiers", "value_index", schema=S)
    op.execute(f"ALTER TABLE {S}.patient_identifiers ALTER COLUMN value TYPE varchar(200) "
               "USING convert_from(value, 'UTF8')")
    op.create_unique_constraint("uq_patient_identifiers_system_value", "patient_identifiers", ["system", "value"],
                                schema=S)
    for column, target in (("given", "varchar(200)"), ("family", "varchar(200)"), ("birth_date", "date"),
                           ("gender", "varchar(16)")):
        op.execute(f"ALTER TABLE {S}.patients ALTER COLUMN {column} TYPE {target} "
                   f"USING convert_from({column}, 'UTF8')::{target}")

"""observations: FHIR Observations (lab results and measurements), the resource encrypted per patient

Revision ID: 0701
Revises: 0002
Depends on: 0601 (per-patient data keys)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0701"
down_revision = "0002"
branch_labels = ("observations",)
depends_on = ("0601",)

S = "hms"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "observations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=True),
        sa.Column("identifier_index", sa.LargeBinary(32), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("categories", ARRAY(sa.String(300)), nullable=False, server_default="{}"),
        sa.Column("codes", ARRAY(sa.String(300)), nullable=False, server_default="{}"),
        sa.Column("effective_at", TS, nullable=True),
        sa.Column("security", ARRAY(sa.String(10)), nullable=False, server_default="{}"),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("recorded_by", sa.String(60), nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("id", name="pk_observations"),
        sa.ForeignKeyConstraint(["patient_id"], [f"{S}.patients.id"], name="fk_observations_patient_id_patients"),
        sa.UniqueConstraint("identifier_index", name="uq_observations_identifier_index"),
        schema=S,
    )
    op.create_index("ix_hms_observations_patient_effective", "observations", ["patient_id", "effective_at"],
                    schema=S)
    op.create_index("ix_hms_observations_encounter_id", "observations", ["encounter_id"], schema=S)


def downgrade() -> None:
    op.drop_table("observations", schema=S)

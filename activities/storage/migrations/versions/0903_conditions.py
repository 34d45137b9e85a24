"""conditions: the problem list and diagnoses, the clinical content sealed per patient

A new table (no rows to convert): the FHIR Condition's code, text, onset and abatement are
AES-256-GCM under the patient's data key in ``body`` (``activities.storage.condition_repo``);
category, statuses, labels, recorder and version stay in the clear for search and policy.

Revision ID: 0903
Revises: 0902 (clinical fields sealed)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0903"
down_revision = "0902"
branch_labels = None
depends_on = None

S = "hms"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conditions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=True),
        sa.Column("identifier_index", sa.LargeBinary(32), nullable=True),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("clinical_status", sa.String(20), nullable=True),
        sa.Column("verification_status", sa.String(20), nullable=True),
        sa.Column("security", ARRAY(sa.String(10)), nullable=False, server_default="{}"),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("recorded_by", sa.String(60), nullable=False),
        sa.Column("recorded_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("id", name="pk_conditions"),
        sa.ForeignKeyConstraint(["patient_id"], [f"{S}.patients.id"], name="fk_conditions_patient_id_patients"),
        sa.ForeignKeyConstraint(["encounter_id"], [f"{S}.encounters.id"],
                                name="fk_conditions_encounter_id_encounters"),
        sa.UniqueConstraint("identifier_index", name="uq_conditions_identifier_index"),
        schema=S,
    )
    op.create_index("ix_hms_conditions_patient_recorded", "conditions", ["patient_id", "recorded_at"], schema=S)
    op.create_index("ix_hms_conditions_encounter_id", "conditions", ["encounter_id"], schema=S)


def downgrade() -> None:
    op.drop_table("conditions", schema=S)

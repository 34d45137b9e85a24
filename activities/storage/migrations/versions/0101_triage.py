"""triage: vital signs, triage assessments, intake drafts

Revision ID: 0101
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0101"
down_revision = "0002"
branch_labels = ("triage",)
depends_on = None

S = "hms"


def upgrade() -> None:
    op.create_table(
        "vital_signs",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey(f"{S}.patients.id"), nullable=False, index=True),
        sa.Column("encounter_id", sa.String(36), index=True),
        sa.Column("triage_id", sa.String(80), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("values", JSONB, nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(60), nullable=False),
        schema=S,
    )
    op.create_table(
        "triage_assessments",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("triage_id", sa.String(80), nullable=False, index=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey(f"{S}.patients.id"), nullable=False, index=True),
        sa.Column("encounter_id", sa.String(36), index=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("observation_id", sa.String(120), sa.ForeignKey(f"{S}.vital_signs.id"), nullable=False),
        sa.Column("news2", sa.Integer, nullable=False),
        sa.Column("news2_band", sa.String(20), nullable=False),
        sa.Column("esi_suggested", sa.SmallInteger, nullable=False),
        sa.Column("esi_final", sa.SmallInteger, nullable=False),
        sa.Column("override_reason", sa.String(500)),
        sa.Column("red_flags", ARRAY(sa.String(60)), nullable=False),
        sa.Column("model_version", sa.String(60), nullable=False),
        sa.Column("assessed_by", sa.String(60), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("triage_id", "sequence", name="uq_triage_assessments_triage_seq"),
        schema=S,
    )
    op.create_table(
        "intake_drafts",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey(f"{S}.patients.id"), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("complaint", sa.String(500), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("answers", JSONB, nullable=False),
        sa.Column("red_flags", ARRAY(sa.String(60)), nullable=False),
        sa.Column("esi_suggested", sa.SmallInteger),
        sa.Column("triage_id", sa.String(80)),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for table in ("intake_drafts", "triage_assessments", "vital_signs"):
        op.drop_table(table, schema=S)

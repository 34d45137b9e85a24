"""clinical notes with sensitivity labels; break-glass grants and their reviews

Revision ID: 0501
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0501"
down_revision = "0002"
branch_labels = ("security",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clinical_notes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=True),
        sa.Column("author_id", sa.String(60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("security", postgresql.ARRAY(sa.String(10)), nullable=False, server_default="{}"),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_notes")),
        schema="hms",
    )
    op.create_index(op.f("ix_hms_clinical_notes_patient_id"), "clinical_notes", ["patient_id"], schema="hms")
    op.create_table(
        "break_glass_grants",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(60), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(60), nullable=True),
        sa.Column("review_status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("reviewed_by", sa.String(60), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("review_outcome", sa.String(20), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_grants")),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),
        schema="hms",
    )
    op.create_index("ix_hms_break_glass_grants_holder", "break_glass_grants", ["user_id", "patient_id"], schema="hms")


def downgrade() -> None:
    op.drop_table("break_glass_grants", schema="hms")
    op.drop_table("clinical_notes", schema="hms")

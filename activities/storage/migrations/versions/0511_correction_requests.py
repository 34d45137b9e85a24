"""patients' correction requests (DPDP right to correction)

Revision ID: 0511
Revises: 0501
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0511"
down_revision = "0501"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "correction_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("proposed_value", sa.LargeBinary(), nullable=False),
        sa.Column("comment", sa.LargeBinary(), nullable=True),
        sa.Column("requested_by", sa.String(60), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("decided_by", sa.String(60), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.LargeBinary(), nullable=True),
        sa.Column("workflow_id", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction_requests")),
        sa.CheckConstraint("status IN ('open', 'accepted', 'rejected')", name="known_status"),
        schema="hms",
    )
    op.create_index(op.f("ix_hms_correction_requests_patient_id"), "correction_requests", ["patient_id"],
                    schema="hms")


def downgrade() -> None:
    op.drop_table("correction_requests", schema="hms")

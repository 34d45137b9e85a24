"""imaging: orders (ServiceRequest), DICOM blobs, studies with AI pre-screen, reports (DiagnosticReport)

Revision ID: 0201
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0201"
down_revision = "0002"
branch_labels = ("imaging",)
depends_on = None

S = "hms"


def _ts(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=sa.text("now()") if default else None)


def upgrade() -> None:
    op.create_table(
        "imaging_orders",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=False),
        sa.Column("journey_id", sa.String(80), nullable=False),
        sa.Column("workflow_id", sa.String(120), nullable=False),
        sa.Column("modality", sa.String(8), nullable=False),
        sa.Column("body_site", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(60), nullable=False),
        sa.Column("assigned_to", sa.String(60), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sla_breaches", sa.Integer(), nullable=False),
        _ts("last_breach_at"),
        _ts("created_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("id", name="pk_imaging_orders"),
        schema=S,
    )
    op.create_index("ix_hms_imaging_orders_patient_id", "imaging_orders", ["patient_id"], schema=S)
    op.create_index("ix_hms_imaging_orders_journey_id", "imaging_orders", ["journey_id"], schema=S)
    op.create_index("ix_hms_imaging_orders_assigned_to", "imaging_orders", ["assigned_to"], schema=S)
    op.create_table(
        "imaging_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _ts("created_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("sha256", name="pk_imaging_blobs"),
        schema=S,
    )
    op.create_table(
        "imaging_studies",
        sa.Column("id", sa.String(90), nullable=False),
        sa.Column("order_id", sa.String(80), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("reference", sa.String(500), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("modality", sa.String(8), nullable=True),
        _ts("received_at", nullable=False, default=True),
        sa.Column("ai_status", sa.String(20), nullable=False),
        sa.Column("ai_score", sa.Float(), nullable=True),
        sa.Column("ai_flagged", sa.Boolean(), nullable=True),
        sa.Column("ai_threshold", sa.Float(), nullable=True),
        sa.Column("ai_model_version", sa.String(80), nullable=True),
        _ts("ai_scored_at"),
        sa.PrimaryKeyConstraint("id", name="pk_imaging_studies"),
        sa.ForeignKeyConstraint(["order_id"], [f"{S}.imaging_orders.id"],
                                name="fk_imaging_studies_order_id_imaging_orders"),
        sa.ForeignKeyConstraint(["sha256"], [f"{S}.imaging_blobs.sha256"],
                                name="fk_imaging_studies_sha256_imaging_blobs"),
        sa.UniqueConstraint("order_id", name="uq_imaging_studies_order_id"),
        schema=S,
    )
    op.create_index("ix_hms_imaging_studies_patient_id", "imaging_studies", ["patient_id"], schema=S)
    op.create_table(
        "diagnostic_reports",
        sa.Column("id", sa.String(90), nullable=False),
        sa.Column("order_id", sa.String(80), nullable=False),
        sa.Column("study_id", sa.String(90), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("findings_code", sa.String(64), nullable=False),
        sa.Column("impression", sa.Text(), nullable=False),
        sa.Column("conclusion", sa.Text(), nullable=False),
        sa.Column("abnormal", sa.Boolean(), nullable=False),
        sa.Column("ai_flagged", sa.Boolean(), nullable=True),
        sa.Column("issued_by", sa.String(60), nullable=False),
        _ts("issued_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_diagnostic_reports"),
        sa.ForeignKeyConstraint(["order_id"], [f"{S}.imaging_orders.id"],
                                name="fk_diagnostic_reports_order_id_imaging_orders"),
        sa.ForeignKeyConstraint(["study_id"], [f"{S}.imaging_studies.id"],
                                name="fk_diagnostic_reports_study_id_imaging_studies"),
        sa.UniqueConstraint("order_id", name="uq_diagnostic_reports_order_id"),
        schema=S,
    )
    op.create_index("ix_hms_diagnostic_reports_patient_id", "diagnostic_reports", ["patient_id"], schema=S)


def downgrade() -> None:
    for table in ("diagnostic_reports", "imaging_studies", "imaging_blobs", "imaging_orders"):
        op.drop_table(table, schema=S)

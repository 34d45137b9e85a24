"""billing and discharge: charges, invoices, claims, discharge summaries, bed cleaning

Revision ID: 0401
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0401"
down_revision = "0002"
branch_labels = ("billing",)
depends_on = None

MONEY = sa.Numeric(14, 2)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "charge_items",
        sa.Column("id", sa.String(60), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("journey_id", sa.String(80), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("source_id", sa.String(120), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("invoice_id", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_items")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_charge_items_idempotency_key")),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("amount = unit_price * quantity", name="amount_exact"),
        schema="hms",
    )
    op.create_index(op.f("ix_hms_charge_items_encounter_id"), "charge_items", ["encounter_id"], schema="hms")
    op.create_index(op.f("ix_hms_charge_items_patient_id"), "charge_items", ["patient_id"], schema="hms")
    op.create_index(op.f("ix_hms_charge_items_invoice_id"), "charge_items", ["invoice_id"], schema="hms")
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("journey_id", sa.String(80), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("paid_amount", MONEY, nullable=True),
        sa.Column("resource", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("encounter_id", name=op.f("uq_invoices_encounter_id")),
        schema="hms",
    )
    op.create_index(op.f("ix_hms_invoices_patient_id"), "invoices", ["patient_id"], schema="hms")
    op.create_table(
        "claims",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("invoice_id", sa.String(80), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("payer", sa.String(80), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("paid_amount", MONEY, nullable=True),
        sa.Column("denial_reason", sa.String(200), nullable=True),
        sa.Column("settled_by", sa.String(60), nullable=True),
        sa.Column("settled_at", TS, nullable=True),
        sa.Column("resource", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["hms.invoices.id"], name=op.f("fk_claims_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_claims_invoice_id")),
        schema="hms",
    )
    op.create_index(op.f("ix_hms_claims_encounter_id"), "claims", ["encounter_id"], schema="hms")
    op.create_index(op.f("ix_hms_claims_patient_id"), "claims", ["patient_id"], schema="hms")
    op.create_table(
        "discharge_summaries",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=False),
        sa.Column("journey_id", sa.String(80), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("security", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("resource", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discharge_summaries")),
        sa.UniqueConstraint("encounter_id", name=op.f("uq_discharge_summaries_encounter_id")),
        schema="hms",
    )
    op.create_index(op.f("ix_hms_discharge_summaries_journey_id"), "discharge_summaries", ["journey_id"],
                    schema="hms")
    op.create_index(op.f("ix_hms_discharge_summaries_patient_id"), "discharge_summaries", ["patient_id"],
                    schema="hms")
    op.create_table(
        "bed_cleanings",
        sa.Column("bed_id", sa.String(60), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("completed_by", sa.String(60), nullable=True),
        sa.PrimaryKeyConstraint("bed_id", "encounter_id", name=op.f("pk_bed_cleanings")),
        schema="hms",
    )


def downgrade() -> None:
    for table in ("bed_cleanings", "discharge_summaries", "claims", "invoices", "charge_items"):
        op.drop_table(table, schema="hms")

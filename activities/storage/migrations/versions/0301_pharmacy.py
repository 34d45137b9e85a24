"""pharmacy: medication orders, stock and its movements, administrations (eMAR), allergies

Revision ID: 0301
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0301"
down_revision = "0002"
branch_labels = ("pharmacy",)
depends_on = None

S = "hms"


def _ts(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=sa.text("now()") if default else None)


def upgrade() -> None:
    op.create_table(
        "medication_orders",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey(f"{S}.patients.id"), nullable=False, index=True),
        sa.Column("encounter_id", sa.String(36), sa.ForeignKey(f"{S}.encounters.id"), nullable=False),
        sa.Column("journey_id", sa.String(80), nullable=False, index=True),
        sa.Column("workflow_id", sa.String(120), nullable=False),
        sa.Column("drug_code", sa.String(12), nullable=False),
        sa.Column("dose", sa.Float, nullable=False),
        sa.Column("unit", sa.String(10), nullable=False),
        sa.Column("route", sa.String(10), nullable=False),
        sa.Column("frequency_hours", sa.Integer, nullable=False),
        sa.Column("doses", sa.Integer, nullable=False),
        sa.Column("units_per_dose", sa.Integer, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("hits", postgresql.JSONB, nullable=False),
        sa.Column("ordered_by", sa.String(60), nullable=False),
        sa.Column("verified_by", sa.String(60)),
        sa.Column("status_reason", sa.String(500)),
        _ts("first_dose_at"), _ts("created_at", False, True), _ts("updated_at", False, True),
        schema=S,
    )
    op.create_table(
        "medication_stock",
        sa.Column("drug_code", sa.String(12), primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("dispense_unit", sa.String(20), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="ck_medication_stock_on_hand_not_negative"),
        schema=S,
    )
    op.create_table(
        "medication_stock_movements",
        sa.Column("idempotency_key", sa.String(120), primary_key=True),
        sa.Column("drug_code", sa.String(12), nullable=False, index=True),
        sa.Column("order_id", sa.String(60), nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        _ts("at", False, True),
        schema=S,
    )
    op.create_table(
        "medication_administrations",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("order_id", sa.String(60), sa.ForeignKey(f"{S}.medication_orders.id"), nullable=False, index=True),
        sa.Column("patient_id", sa.String(36), nullable=False, index=True),
        sa.Column("dose_number", sa.Integer, nullable=False),
        _ts("due", False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("recorded_by", sa.String(60), nullable=False),
        _ts("recorded_at", False),
        schema=S,
    )
    op.create_table(
        "allergy_intolerances",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey(f"{S}.patients.id"), nullable=False, index=True),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("is_class", sa.Boolean, nullable=False),
        sa.Column("criticality", sa.String(20), nullable=False),
        sa.Column("reaction", sa.String(60)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("recorded_by", sa.String(60), nullable=False),
        _ts("recorded_at", False, True),
        schema=S,
    )


def downgrade() -> None:
    for table in ("allergy_intolerances", "medication_administrations", "medication_stock_movements",
                  "medication_stock", "medication_orders"):
        op.drop_table(table, schema=S)

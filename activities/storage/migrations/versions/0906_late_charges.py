"""late charges and billing corrections: supplementary invoices, reversed charges, re-submitted claims

Revision ID: 0906
Revises: 0905
Depends on: 0401 (billing and discharge)

* ``invoices.kind``: ``stay`` for the invoice the billing journey issues at discharge (at most one
  per stay, a partial unique index), ``supplementary`` for the invoices of charges posted after it
  (``activities.storage.billing_repo``) or issued by a billing clerk over FHIR.
* ``charge_items.invoice_id`` references ``invoices.id``; once set it never changes, and neither
  does the charge's amount (trigger ``charge_items_billed_fixed``): a charge belongs to at most one
  invoice, so invoices' totals cannot count a charge twice.
* ``charge_items.reversed_at`` / ``reversed_by``: a charge entered in error is kept, flagged and
  never invoiced (check ``reversed_not_invoiced``); a reversal is final.
* ``claims``: one *active* claim per invoice (a partial unique index) instead of one claim ever,
  so a withdrawn claim can be followed by a new one.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0906"
down_revision = "0905"
branch_labels = None
depends_on = ("0401",)

S = "hms"

GUARD = r"""
CREATE FUNCTION hms.charge_items_billed_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.invoice_id IS NOT NULL AND (NEW.invoice_id IS DISTINCT FROM OLD.invoice_id
                                       OR NEW.amount IS DISTINCT FROM OLD.amount) THEN
        RAISE EXCEPTION 'charge % is billed on invoice %: its invoice and amount are fixed', OLD.id, OLD.invoice_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.reversed_at IS NOT NULL AND NEW.reversed_at IS DISTINCT FROM OLD.reversed_at THEN
        RAISE EXCEPTION 'charge % was entered in error: a reversal is final', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER charge_items_billed_fixed BEFORE UPDATE ON hms.charge_items
    FOR EACH ROW EXECUTE FUNCTION hms.charge_items_billed_fixed();
"""


def upgrade() -> None:
    op.add_column("invoices", sa.Column("kind", sa.String(20), nullable=False, server_default="stay"), schema=S)
    op.drop_constraint(op.f("uq_invoices_encounter_id"), "invoices", type_="unique", schema=S)
    op.create_index("ix_hms_invoices_encounter_id", "invoices", ["encounter_id"], schema=S)
    op.create_index("uq_invoices_one_stay_invoice", "invoices", ["encounter_id"], unique=True, schema=S,
                    postgresql_where=sa.text("kind = 'stay'"))

    op.add_column("charge_items", sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True), schema=S)
    op.add_column("charge_items", sa.Column("reversed_by", sa.String(60), nullable=True), schema=S)
    op.create_check_constraint(op.f("ck_charge_items_reversed_not_invoiced"), "charge_items",
                               "reversed_at IS NULL OR invoice_id IS NULL", schema=S)
    op.create_foreign_key(op.f("fk_charge_items_invoice_id_invoices"), "charge_items", "invoices", ["invoice_id"],
                          ["id"], source_schema=S, referent_schema=S)
    op.execute(GUARD)

    op.drop_constraint(op.f("uq_claims_invoice_id"), "claims", type_="unique", schema=S)
    op.create_index("ix_hms_claims_invoice_id", "claims", ["invoice_id"], schema=S)
    op.create_index("uq_claims_one_active_per_invoice", "claims", ["invoice_id"], unique=True, schema=S,
                    postgresql_where=sa.text("status = 'active'"))


def downgrade() -> None:
    op.drop_index("uq_claims_one_active_per_invoice", "claims", schema=S)
    op.drop_index("ix_hms_claims_invoice_id", "claims", schema=S)
    op.create_unique_constraint(op.f("uq_claims_invoice_id"), "claims", ["invoice_id"], schema=S)
    op.execute("DROP TRIGGER IF EXISTS charge_items_billed_fixed ON hms.charge_items; "
               "DROP FUNCTION IF EXISTS hms.charge_items_billed_fixed();")
    op.drop_constraint(op.f("fk_charge_items_invoice_id_invoices"), "charge_items", type_="foreignkey", schema=S)
    op.drop_constraint(op.f("ck_charge_items_reversed_not_invoiced"), "charge_items", type_="check", schema=S)
    op.drop_column("charge_items", "reversed_by", schema=S)
    op.drop_column("charge_items", "reversed_at", schema=S)
    op.drop_index("uq_invoices_one_stay_invoice", "invoices", schema=S)
    op.drop_index("ix_hms_invoices_encounter_id", "invoices", schema=S)
    op.create_unique_constraint(op.f("uq_invoices_encounter_id"), "invoices", ["encounter_id"], schema=S)
    op.drop_column("invoices", "kind", schema=S)

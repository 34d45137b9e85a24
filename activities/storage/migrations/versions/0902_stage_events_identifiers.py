"""stage events from the journey's stages, and the business identifiers of FHIR-created resources

Revision ID: 0902
Revises: 0901
Depends on: 0101 (triage), 0201 (imaging), 0301 (pharmacy), 0401 (billing and discharge), 0711 (events)

Stage events: the stages (child workflows of the journey) store rows in their own tables; a
trigger on each turns a new row or a real change of its state into a ``stage`` event in the same
transaction, so the journey's workflows change nothing (no replay risk, no cost to the journey).
Each event's ``ref`` is ``<source>/<row id>``, read by ``api.streams.stages``:

* ``triage/<assessment id>``: a triage assessment recorded;
* ``imaging-order/<order id>``: an imaging order placed, reported (``completed``) or cancelled
  (``revoked``); ``imaging-study/<study id>``: its study received;
* ``medication-order/<order id>``: a medication order placed and each change of its status
  (verified, rejected, dispensed, cancelled, completed…);
* ``discharge/<encounter id>``: the discharge checklist opened (its medication-reconciliation task),
  the summary written, the bed sent to cleaning and released (the stay's end is the encounter's
  own ``stage`` event);
* ``invoice/<invoice id>``, ``claim/<claim id>``: an invoice issued or settled (``balanced``), a
  claim submitted or settled (paid, denied).

Upserts retried by activities rewrite rows with the same state: like ``tasks_changed_event``, the
update triggers fire only ``WHEN`` the state column really changed, and inserts that hit ``ON
CONFLICT DO NOTHING`` insert no row and fire nothing.

Identifiers: ``resource_identifiers`` keeps the ``identifier`` elements a FHIR create carried
(ServiceRequest, MedicationRequest, DocumentReference, ChargeItem), sealed under the patient's data
key, with keyed blind indexes of (type, system, value) and (type, value) for the ``identifier``
search parameter (``activities.storage.identifiers_repo``).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0902"
down_revision = "0901"
branch_labels = None
depends_on = ("0101", "0201", "0301", "0401", "0711")

S = "hms"

TRIGGERS = r"""
-- One writer for all stage rows: the ward is the named stay's, else the patient's current one.
CREATE FUNCTION hms.stage_row_event(p_patient varchar, p_encounter varchar, p_source varchar, p_id varchar)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_patient IS NULL OR p_id IS NULL THEN
        RETURN;
    END IF;
    PERFORM hms.emit_event(p_patient, hms.event_ward(p_patient, p_encounter), 'stage',
                           left(p_source || '/' || p_id, 120));
END $$;

CREATE FUNCTION hms.triage_stage_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.stage_row_event(NEW.patient_id, NEW.encounter_id, 'triage', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER triage_assessments_stage_event AFTER INSERT ON hms.triage_assessments
    FOR EACH ROW EXECUTE FUNCTION hms.triage_stage_event();

CREATE FUNCTION hms.imaging_order_stage_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.stage_row_event(NEW.patient_id, NEW.encounter_id, 'imaging-order', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER imaging_orders_created_stage_event AFTER INSERT ON hms.imaging_orders
    FOR EACH ROW EXECUTE FUNCTION hms.imaging_order_stage_event();
CREATE TRIGGER imaging_orders_changed_stage_event AFTER UPDATE ON hms.imaging_orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hms.imaging_order_stage_event();

CREATE FUNCTION hms.imaging_study_stage_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.stage_row_event(NEW.patient_id, (SELECT encounter_id FROM hms.imaging_orders WHERE id = NEW.order_id),
                                'imaging-study', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER imaging_studies_stage_event AFTER INSERT ON hms.imaging_studies
    FOR EACH ROW EXECUTE FUNCTION hms.imaging_study_stage_event();

CREATE FUNCTION hms.medication_order_stage_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.stage_row_event(NEW.patient_id, NEW.encounter_id, 'medication-order', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER medication_orders_created_stage_event AFTER INSERT ON hms.medication_orders
    FOR EACH ROW EXECUTE FUNCTION hms.medication_order_stage_event();
CREATE TRIGGER medication_orders_changed_stage_event AFTER UPDATE ON hms.medication_orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hms.medication_order_stage_event();

-- Discharge: the checklist's first task, the summary, the bed hand-over (all keyed by the stay).
CREATE FUNCTION hms.discharge_stage_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.stage_row_event(
        coalesce(to_jsonb(NEW) ->> 'patient_id',
                 (SELECT patient_id FROM hms.encounters WHERE id = NEW.encounter_id)),
        NEW.encounter_id, 'discharge', NEW.encounter_id);
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_discharge_stage_event AFTER INSERT ON hms.tasks
    FOR EACH ROW WHEN (NEW.type = 'medication-reconciliation' AND NEW.encounter_id IS NOT NULL)
    EXECUTE FUNCTION hms.discharge_stage_event();
CREATE TRIGGER discharge_summaries_stage_event AFTER INSERT ON hms.discharge_summaries
    FOR EACH ROW EXECUTE FUNCTION hms.discharge_stage_event();
CREATE TRIGGER bed_cleanings_created_stage_event AFTER INSERT ON hms.bed_cleanings
    FOR EACH ROW EXECUTE FUNCTION hms.discharge_stage_event();
CREATE TRIGGER bed_cleanings_changed_stage_event AFTER UPDATE ON hms.bed_cleanings
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hms.discharge_stage_event();

CREATE FUNCTION hms.invoice_stage_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.stage_row_event(NEW.patient_id, NEW.encounter_id, 'invoice', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER invoices_created_stage_event AFTER INSERT ON hms.invoices
    FOR EACH ROW EXECUTE FUNCTION hms.invoice_stage_event();
CREATE TRIGGER invoices_changed_stage_event AFTER UPDATE ON hms.invoices
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hms.invoice_stage_event();

CREATE FUNCTION hms.claim_stage_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.stage_row_event(NEW.patient_id, NEW.encounter_id, 'claim', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER claims_created_stage_event AFTER INSERT ON hms.claims
    FOR EACH ROW EXECUTE FUNCTION hms.claim_stage_event();
CREATE TRIGGER claims_changed_stage_event AFTER UPDATE ON hms.claims
    FOR EACH ROW WHEN (OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hms.claim_stage_event();
"""

DROP_TRIGGERS = r"""
DROP TRIGGER IF EXISTS claims_changed_stage_event ON hms.claims;
DROP TRIGGER IF EXISTS claims_created_stage_event ON hms.claims;
DROP TRIGGER IF EXISTS invoices_changed_stage_event ON hms.invoices;
DROP TRIGGER IF EXISTS invoices_created_stage_event ON hms.invoices;
DROP TRIGGER IF EXISTS bed_cleanings_changed_stage_event ON hms.bed_cleanings;
DROP TRIGGER IF EXISTS bed_cleanings_created_stage_event ON hms.bed_cleanings;
DROP TRIGGER IF EXISTS discharge_summaries_stage_event ON hms.discharge_summaries;
DROP TRIGGER IF EXISTS tasks_discharge_stage_event ON hms.tasks;
DROP TRIGGER IF EXISTS medication_orders_changed_stage_event ON hms.medication_orders;
DROP TRIGGER IF EXISTS medication_orders_created_stage_event ON hms.medication_orders;
DROP TRIGGER IF EXISTS imaging_studies_stage_event ON hms.imaging_studies;
DROP TRIGGER IF EXISTS imaging_orders_changed_stage_event ON hms.imaging_orders;
DROP TRIGGER IF EXISTS imaging_orders_created_stage_event ON hms.imaging_orders;
DROP TRIGGER IF EXISTS triage_assessments_stage_event ON hms.triage_assessments;
DROP FUNCTION IF EXISTS hms.claim_stage_event();
DROP FUNCTION IF EXISTS hms.invoice_stage_event();
DROP FUNCTION IF EXISTS hms.discharge_stage_event();
DROP FUNCTION IF EXISTS hms.medication_order_stage_event();
DROP FUNCTION IF EXISTS hms.imaging_study_stage_event();
DROP FUNCTION IF EXISTS hms.imaging_order_stage_event();
DROP FUNCTION IF EXISTS hms.triage_stage_event();
DROP FUNCTION IF EXISTS hms.stage_row_event(varchar, varchar, varchar, varchar);
"""


def upgrade() -> None:
    op.execute(TRIGGERS)
    op.create_table(
        "resource_identifiers",
        sa.Column("resource_type", sa.String(40), nullable=False),
        sa.Column("resource_id", sa.String(120), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("element", sa.LargeBinary(), nullable=False),
        sa.Column("system_index", sa.LargeBinary(32), nullable=False),
        sa.Column("value_index", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", "position", name="pk_resource_identifiers"),
        schema=S,
    )
    op.create_index("ix_resource_identifiers_system_index", "resource_identifiers",
                    ["resource_type", "system_index"], schema=S)
    op.create_index("ix_resource_identifiers_value_index", "resource_identifiers",
                    ["resource_type", "value_index"], schema=S)
    op.create_index("ix_resource_identifiers_patient_id", "resource_identifiers", ["patient_id"], schema=S)


def downgrade() -> None:
    op.drop_table("resource_identifiers", schema=S)
    op.execute(DROP_TRIGGERS)

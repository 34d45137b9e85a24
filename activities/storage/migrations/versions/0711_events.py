"""events: the stream source table and the triggers that fill it transactionally

Revision ID: 0711
Revises: 0002
Depends on: 0101 (the vital_signs table)

Why triggers: an event written in the same transaction as the change cannot be lost
or invented (a rolled-back vitals insert leaves no event), and no writer has to
remember to emit. ``pg_notify`` is transactional too: listeners hear the id at commit.

Sources: ``vital_signs`` inserts (kind ``vitals``); ``tasks`` created or changed in
status or assignee (``task``: created, claimed, completed, cancelled); ``encounters``
created or changed in status or ward (``stage``: the journey's admission → admitted →
discharged, and transfers). Observations get theirs in 0712.
"""
from __future__ import annotations

from alembic import op

revision = "0711"
down_revision = "0002"
branch_labels = ("events",)
#: The triggers attach to ``vital_signs``, created on the triage branch.
depends_on = ("0101",)

UPGRADE = r"""
CREATE TABLE hms.events (
    id bigserial PRIMARY KEY,
    patient_id varchar(36) NOT NULL,
    ward varchar(40),
    kind varchar(20) NOT NULL CHECK (kind IN ('vitals', 'result', 'task', 'stage')),
    ref varchar(120) NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_events_patient_id_id ON hms.events (patient_id, id);
CREATE INDEX ix_events_ward_id ON hms.events (ward, id);
CREATE INDEX ix_events_occurred_at ON hms.events (occurred_at);

-- The one writer of events: insert the row and notify its id (delivered at commit).
CREATE FUNCTION hms.emit_event(p_patient varchar, p_ward varchar, p_kind varchar, p_ref varchar)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO hms.events (patient_id, ward, kind, ref) VALUES (p_patient, p_ward, p_kind, p_ref)
    RETURNING id INTO new_id;
    PERFORM pg_notify('hms_events', new_id::text);
    RETURN new_id;
END $$;

-- The ward of a patient's change: the named encounter's, else the current stay's.
CREATE FUNCTION hms.event_ward(p_patient varchar, p_encounter varchar)
RETURNS varchar LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT ward_id FROM hms.encounters WHERE id = p_encounter),
        (SELECT ward_id FROM hms.encounters WHERE patient_id = p_patient
           ORDER BY status IN ('planned', 'in-progress') DESC, created_at DESC LIMIT 1))
$$;

CREATE FUNCTION hms.vitals_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.emit_event(NEW.patient_id, hms.event_ward(NEW.patient_id, NEW.encounter_id), 'vitals', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER vital_signs_event AFTER INSERT ON hms.vital_signs
    FOR EACH ROW EXECUTE FUNCTION hms.vitals_event();

CREATE FUNCTION hms.task_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.emit_event(NEW.patient_id, coalesce(NEW.ward_id, hms.event_ward(NEW.patient_id, NEW.encounter_id)),
                           'task', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_created_event AFTER INSERT ON hms.tasks
    FOR EACH ROW EXECUTE FUNCTION hms.task_event();
-- Upserts refresh rows on every retry: only a real change of state is an event.
CREATE TRIGGER tasks_changed_event AFTER UPDATE ON hms.tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.details -> 'assigned_to' IS DISTINCT FROM NEW.details -> 'assigned_to'
                       OR OLD.ward_id IS DISTINCT FROM NEW.ward_id)
    EXECUTE FUNCTION hms.task_event();

CREATE FUNCTION hms.encounter_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hms.emit_event(NEW.patient_id, NEW.ward_id, 'stage', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER encounters_created_event AFTER INSERT ON hms.encounters
    FOR EACH ROW EXECUTE FUNCTION hms.encounter_event();
CREATE TRIGGER encounters_changed_event AFTER UPDATE ON hms.encounters
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.ward_id IS DISTINCT FROM NEW.ward_id)
    EXECUTE FUNCTION hms.encounter_event();
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS encounters_changed_event ON hms.encounters;
DROP TRIGGER IF EXISTS encounters_created_event ON hms.encounters;
DROP TRIGGER IF EXISTS tasks_changed_event ON hms.tasks;
DROP TRIGGER IF EXISTS tasks_created_event ON hms.tasks;
DROP TRIGGER IF EXISTS vital_signs_event ON hms.vital_signs;
DROP FUNCTION IF EXISTS hms.encounter_event();
DROP FUNCTION IF EXISTS hms.task_event();
DROP FUNCTION IF EXISTS hms.vitals_event();
DROP FUNCTION IF EXISTS hms.event_ward(varchar, varchar);
DROP FUNCTION IF EXISTS hms.emit_event(varchar, varchar, varchar, varchar);
DROP TABLE IF EXISTS hms.events;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""events: observations (FHIR results and vitals) feed the stream

Revision ID: 0712
Revises: 0711
Depends on: 0701 (the observations table, FHIR storage branch)

The trigger reads the new row through ``to_jsonb`` (``patient_id``, ``encounter_id``,
``categories``, ``status``, ``version``), so it needs only the identifier columns of the
observations table. An observation whose category tokens mention ``vital-signs`` is a
``vitals`` event, any other a ``result``; an update that changes ``status`` (preliminary →
final) or ``version`` (an amended result) is an event too.
"""
from __future__ import annotations

from alembic import op

revision = "0712"
down_revision = "0711"
branch_labels = None
depends_on = ("0701",)

UPGRADE = r"""
CREATE FUNCTION hms.observation_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r jsonb := to_jsonb(NEW);
    kind varchar := CASE WHEN coalesce(r ->> 'categories', r ->> 'category', '') ILIKE '%vital-signs%' THEN 'vitals' ELSE 'result' END;
BEGIN
    IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) -> 'status') IS NOT DISTINCT FROM (r -> 'status')
            AND (to_jsonb(OLD) -> 'version') IS NOT DISTINCT FROM (r -> 'version') THEN
        RETURN NULL;
    END IF;
    PERFORM hms.emit_event(r ->> 'patient_id', hms.event_ward(r ->> 'patient_id', r ->> 'encounter_id'),
                           kind, r ->> 'id');
    RETURN NULL;
END $$;
CREATE TRIGGER observations_event AFTER INSERT OR UPDATE ON hms.observations
    FOR EACH ROW EXECUTE FUNCTION hms.observation_event();
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS observations_event ON hms.observations;
DROP FUNCTION IF EXISTS hms.observation_event();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""Migration 0801 on a database that already holds clinical text in the clear.

Without the keys it refuses and changes nothing; with the field cipher it seals every row in
place under its patient's data key (an erased patient's text is dropped), after which the
repositories read the same text and a raw scan finds none of it; the downgrade opens it again.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from activities.crypto import dek_store
from activities.crypto.fields import DataErased, file_cipher
from activities.storage import erasure_repo, security_repo, triage_store
from activities.storage import repository as repo
from activities.storage import tasks as task_store
from activities.storage.db import make_session_factory
from activities.storage.migrate import alembic_config, upgrade
from activities.storage.models import Encounter
from activities.storage.models_security import BreakGlassGrant
from activities.storage.models_triage import IntakeDraft
from activities.storage.sealing_migration import PlaintextRowsPresent
from tests.conftest import create_database
from tests.integration.security.test_encryption_at_rest import scan

pytestmark = pytest.mark.integration

BEFORE = ("0201", "0301", "0401", "0511", "0712")  # every head below 0801
REASON, GONE, TASK, COMPLAINT, ANSWER, GRANT, HOLD = (
    "Wexborough rash", "Pollinder gout", "Harrowgate cough", "Listerane ache", "since the Ormsby fair",
    "Cadwallow collapse", "case Tremayne 2026/5")
NEEDLES = ["Wexborough", "Pollinder", "Harrowgate", "Listerane", "Ormsby", "Cadwallow", "Tremayne"]


def _seed_plaintext(engine: sa.Engine, cipher) -> tuple[str, str]:  # noqa: ANN001
    """A live and an erased patient with clinical rows written as before 0801 (text in the clear)."""
    sessions = make_session_factory(engine)
    live, erased = str(uuid.uuid4()), str(uuid.uuid4())
    with sessions() as s, s.begin():
        for pid in (live, erased):
            repo.register_patient(s, cipher, pid, "urn:hms:mrn", f"MRN-{pid[:8]}", "Ola", "Berg", date(1950, 1, 1),
                                  "male")
    sql = [("INSERT INTO hms.wards (id, name) VALUES ('medical', 'Medical ward') ON CONFLICT DO NOTHING", {}),
           ("INSERT INTO hms.encounters (id, patient_id, journey_id, status, encounter_class, ward_id, reason) "
            "VALUES (:e, :p, :j, 'finished', 'IMP', 'medical', :r)",
            [{"e": f"e-{live[:8]}", "p": live, "j": f"j-{live[:8]}", "r": REASON},
             {"e": f"e-{erased[:8]}", "p": erased, "j": f"j-{erased[:8]}", "r": GONE}]),
           ("INSERT INTO hms.tasks (id, type, role, patient_id, journey_id, workflow_id, status, details, created_at) "
            "VALUES (:i, 'triage', 'triage_nurse', :p, 'j', 'w', 'open', CAST(:d AS jsonb), now())",
            {"i": f"t-{live[:8]}", "p": live, "d": json.dumps({"triage_id": "tr-1", "hint": TASK})}),
           ("INSERT INTO hms.intake_drafts (id, patient_id, status, complaint, category, answers, red_flags, "
            "created_by, updated_at) VALUES (:i, :p, 'draft', :c, 'pain', CAST(:a AS jsonb), '{}', 'n', now())",
            {"i": f"in-{live[:8]}", "p": live, "c": COMPLAINT, "a": json.dumps({"onset": ANSWER})}),
           ("INSERT INTO hms.break_glass_grants (id, patient_id, user_id, role, reason, created_at, expires_at, "
            "workflow_id) VALUES (:i, :p, 'attending-2', 'attending_physician', :r, now(), now() + interval '1 hour', 'w')",
            {"i": f"bg-{live[:8]}", "p": live, "r": GRANT}),
           ("INSERT INTO hms.legal_holds (id, patient_id, reason, placed_by) VALUES (:i, :p, :r, 'c')",
            {"i": f"lh-{live[:8]}", "p": live, "r": HOLD})]
    with engine.begin() as c:
        for statement, params in sql:
            c.execute(sa.text(statement), params)
    with sessions() as s, s.begin():  # erased then: the data key destroyed (the schema of the day, not today's)
        dek_store.shred(s, erased, "erasure-before-0801", datetime.now(UTC))
    return live, erased


def test_0801_refuses_without_keys_then_seals_existing_rows_and_opens_them_on_downgrade(
        pg_server_url: str, tmp_path: Path) -> None:
    url = create_database(pg_server_url)
    cfg = alembic_config(url)
    for rev in BEFORE:
        command.upgrade(cfg, rev)
    cipher = file_cipher(tmp_path / "keys")
    engine = sa.create_engine(url)
    live, erased = _seed_plaintext(engine, cipher)

    with pytest.raises(PlaintextRowsPresent, match=r"hms\.encounters\.reason: 2 row\(s\).*field cipher"):
        upgrade(url)
    with engine.connect() as c:  # nothing changed: still in the clear
        assert c.execute(sa.text("SELECT reason FROM hms.encounters WHERE patient_id = :p"), {"p": live}).scalar() \
            == REASON

    upgrade(url, cipher=cipher)
    assert scan(engine, NEEDLES) == []
    sessions = make_session_factory(engine)
    with sessions() as s:
        assert repo.encounter_reason(s, cipher, s.get(Encounter, f"e-{live[:8]}")) == REASON
        assert task_store.read_task(s, cipher, f"t-{live[:8]}").details == {"triage_id": "tr-1", "hint": TASK}
        text = triage_store.intake_text(s, cipher, s.get(IntakeDraft, f"in-{live[:8]}"))
        assert (text.complaint, text.answers) == (COMPLAINT, {"onset": ANSWER})
        grant = s.get(BreakGlassGrant, f"bg-{live[:8]}")
        assert security_repo.grant_reasons(s, cipher, [grant]) == {grant.id: GRANT}
        assert erasure_repo.hold_reasons(s, cipher, erasure_repo.holds_of(s, live)) == {f"lh-{live[:8]}": HOLD}
        with pytest.raises(DataErased):  # the erased patient's text could not be sealed: it is gone
            repo.encounter_reason(s, cipher, s.get(Encounter, f"e-{erased[:8]}"))
        assert bytes(s.get(Encounter, f"e-{erased[:8]}").reason) == b""

    downgrade = alembic_config(url)
    downgrade.attributes["field_cipher"] = cipher
    command.downgrade(downgrade, "0801-1")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT reason FROM hms.encounters WHERE patient_id = :p"), {"p": live}).scalar() \
            == REASON
        assert c.execute(sa.text("SELECT details FROM hms.tasks WHERE id = :i"), {"i": f"t-{live[:8]}"}).scalar() \
            == {"triage_id": "tr-1", "hint": TASK}
    engine.dispose()

"""The one-statement reads give the same answers as the per-fact queries they replace."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from activities.crypto.fields import DataErased, ephemeral_cipher
from activities.storage import consent_repo
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from activities.storage.models_keys import PatientKey
from activities.storage.patient_view import (
    CHART_STATEMENT,
    decode_chart,
    fetch_chart,
    patient_view,
    policy_facts,
)
from activities.storage.policy_context import policy_context
from api.async_reads import APPLICATION_NAME, AsyncReads, CompiledRead


@pytest.fixture(scope="module")
def cipher():
    return ephemeral_cipher()


def _register(sessions, cipher, *, stays: int, consent: list[tuple[str, str]] = ()) -> str:
    pid = str(uuid.uuid4())
    with sessions.begin() as s:
        repo.register_patient(s, cipher, pid, "urn:hms:mrn", uuid.uuid4().hex[:10], "Ada", "Rao", date(1980, 2, 3), "female")
        repo.register_patient(s, cipher, pid, "urn:hms:national", uuid.uuid4().hex[:12], "Ada", "Rao",
                              date(1980, 2, 3), "female")
        for i in range(stays):
            enc = str(uuid.uuid4())
            repo.create_encounter(s, enc, pid, f"journey-{enc}", "medical", "chest pain")
            repo.assign_care_team(s, enc, "medical", "attending-1")
            repo.assign_bed(s, enc, "medical")
            if i < stays - 1:  # earlier stays ended
                repo.set_encounter_status(s, enc, "finished", datetime.now(UTC))
            else:
                repo.set_encounter_status(s, enc, "in-progress", datetime.now(UTC))
        for n, (purpose, status) in enumerate(consent):
            consent_repo.record(s, consent_id=f"{pid}-{n}", patient_id=pid, purpose=purpose, status=status,
                                by="registration-1")
    return pid


@pytest.mark.parametrize("stays", [0, 1, 2])
def test_policy_context_equals_the_separate_queries(db_engine, cipher, stays) -> None:
    sessions = make_session_factory(db_engine)
    pid = _register(sessions, cipher, stays=stays, consent=[("TREAT", "active"), ("HRESCH", "active"),
                                                           ("HRESCH", "withdrawn")])
    with sessions() as s:
        found = policy_context(s, pid)
        assert found is not None
        assert found == (repo.patient_context(s, pid), consent_repo.consent_state(s, pid))
        assert found[1]["HRESCH"] == "withdrawn" and found[1]["HMARKT"] is None
        assert found[0].inpatient is (stays > 0)
        assert policy_context(s, str(uuid.uuid4())) is None


@pytest.mark.parametrize("stays", [0, 2])
def test_patient_view_equals_the_separate_reads(db_engine, cipher, stays) -> None:
    sessions = make_session_factory(db_engine)
    pid = _register(sessions, cipher, stays=stays)
    with sessions() as s:
        record, stay = patient_view(s, cipher, pid)
        assert record == repo.read_patient(s, cipher, pid)
        assert len(record.identifiers) == 2
        enc = repo.current_encounter(s, pid)
        if enc is None:
            assert stay is None
        else:
            assert (stay.id, stay.status, stay.ward, stay.attending, stay.reason, stay.journey_id) == (
                enc.id, enc.status, enc.ward_id, enc.attending_id, repo.encounter_reason(s, cipher, enc),
                enc.journey_id)
            assert stay.bed_id == repo.bed_of(s, enc.id) is not None
        assert patient_view(s, cipher, str(uuid.uuid4())) is None


def test_patient_view_of_a_shredded_key_is_erased(db_engine, cipher) -> None:
    sessions = make_session_factory(db_engine)
    pid = _register(sessions, cipher, stays=0)
    with sessions.begin() as s:
        s.execute(sa.update(PatientKey).where(PatientKey.patient_id == pid)
                  .values(wrapped_dek=None, kek_id=None, shredded_at=datetime.now(UTC)))
    cipher.forget(pid)
    with sessions() as s, pytest.raises(DataErased):
        patient_view(s, cipher, pid)


@pytest.mark.parametrize("stays", [0, 1, 2])
def test_chart_row_carries_the_policy_context(db_engine, cipher, stays) -> None:
    """The chart read's own row answers what ``policy_context`` answers, so one statement serves both."""
    sessions = make_session_factory(db_engine)
    pid = _register(sessions, cipher, stays=stays, consent=[("TREAT", "active"), ("HRESCH", "active"),
                                                           ("HRESCH", "withdrawn")])
    with sessions() as s:
        row = fetch_chart(s, pid)
        assert row is not None
        assert policy_facts(row) == policy_context(s, pid)
        assert policy_facts(row)[1] == {"TREAT": "active", "HRESCH": "withdrawn", "HMARKT": None}
        assert fetch_chart(s, str(uuid.uuid4())) is None
    bare = _register(sessions, cipher, stays=0)  # no consent recorded at all
    with sessions() as s:
        assert policy_facts(fetch_chart(s, bare)) == policy_context(s, bare)


async def test_async_chart_read_equals_the_core_read_and_survives_a_lost_connection(db_engine, cipher) -> None:
    """The event-loop read (``api.async_reads``) answers the same row; a kept connection the server dropped
    is replaced on the next read instead of failing it."""
    sessions = make_session_factory(db_engine)
    pid = _register(sessions, cipher, stays=2, consent=[("TREAT", "active")])
    reads = AsyncReads(db_engine)
    chart = CompiledRead.of(CHART_STATEMENT, reads.dialect, "patient_id")
    try:
        row = await reads.first(chart, patient_id=pid)
        with sessions() as s:
            core = fetch_chart(s, pid)
            assert decode_chart(None, cipher, pid, row) == decode_chart(s, cipher, pid, core)
        assert policy_facts(row) == policy_facts(core)
        assert await reads.first(chart, patient_id=str(uuid.uuid4())) is None
        with db_engine.connect() as c:  # the server drops the connection the pool keeps
            dropped = c.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE datname = current_database() AND application_name = :a"),
                                {"a": APPLICATION_NAME}).scalar()
        assert dropped >= 1  # (other tests of this session may keep some too; they reconnect the same way)
        again = await reads.first(chart, patient_id=pid)
        assert decode_chart(None, cipher, pid, again) == decode_chart(None, cipher, pid, row)
    finally:
        await reads.aclose()

"""The observations store contract (used by the FHIR facade and the HL7 ingestion): idempotent record,
read, search, encryption at rest, refusal of bad subjects, erasure."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from activities.crypto.fields import DataErased
from activities.storage import observations_repo as repo
from activities.storage.erasure_repo import shred_patient
from activities.storage.models_observations import Observation
from tests.integration.fhir.conftest import observation


def test_record_is_idempotent_by_identifier(fhir_services, admitted):
    stay, cipher = admitted(), fhir_services.field_cipher
    body = observation(stay.patient_id, stay.encounter_id, identifier=f"ACC-{uuid.uuid4().hex}", value=7.7)
    with fhir_services.sessions() as s, s.begin():
        first = repo.record_observation(s, cipher, body, recorded_by="lab")
        again = repo.record_observation(s, cipher, {**body, "valueQuantity": {"value": 1.0}})
    assert first[1] is True and again == (first[0], False)
    with fhir_services.sessions() as s:
        got = repo.get_observation(s, cipher, first[0])
        row = s.get(Observation, first[0])
        assert got is not None and got["valueQuantity"]["value"] == 7.7 and got["identifier"] == body["identifier"]
        assert row is not None and b"7.7" not in bytes(row.body) and b"mmol" not in bytes(row.body)
        assert row.encounter_id == stay.encounter_id and "http://loinc.org|2345-7" in row.codes


def test_search_by_patient_encounter_code_category_and_time(fhir_services, admitted):
    stay, cipher = admitted(), fhir_services.field_cipher
    with fhir_services.sessions() as s, s.begin():
        for day, code, cat in ((1, "2345-7", "laboratory"), (2, "718-7", "laboratory"), (3, "8867-4", "exam")):
            repo.record_observation(s, cipher, observation(stay.patient_id, stay.encounter_id, code=code,
                                                           category=cat, when=f"2026-09-0{day}T00:00:00Z"))
    with fhir_services.sessions() as s:
        def ids(**kw):
            return [o["code"]["coding"][0]["code"] for o in repo.search_observations(s, cipher, **kw)]
        assert ids(patient_id=stay.patient_id) == ["8867-4", "718-7", "2345-7"]
        assert ids(encounter_id=stay.encounter_id, category="laboratory") == ["718-7", "2345-7"]
        assert ids(patient_id=stay.patient_id, code="http://loinc.org|718-7") == ["718-7"]
        assert ids(patient_id=stay.patient_id, code="2345-7") == ["2345-7"]
        assert ids(patient_id=stay.patient_id, since=datetime(2026, 9, 2, tzinfo=UTC),
                   until=datetime(2026, 9, 3, tzinfo=UTC)) == ["718-7"]
        assert ids(patient_id=stay.patient_id, limit=1) == ["8867-4"]


def test_bad_subjects_are_refused(fhir_services, admitted):
    stay, other = admitted(), admitted()
    cases = [observation(str(uuid.uuid4())), {**observation(stay.patient_id), "subject": {"reference": "Group/1"}},
             observation(stay.patient_id, other.encounter_id),
             {**observation(stay.patient_id), "effectiveDateTime": "not a date"}]
    for body in cases:
        with fhir_services.sessions() as s, s.begin(), pytest.raises(repo.InvalidObservation):
            repo.record_observation(s, fhir_services.field_cipher, body)


def test_erased_patient_results_are_gone(fhir_services, admitted):
    stay, cipher = admitted(), fhir_services.field_cipher
    with fhir_services.sessions() as s, s.begin():
        oid, _ = repo.record_observation(s, cipher, observation(stay.patient_id))
    with fhir_services.sessions() as s, s.begin():
        s.execute(sa.text("UPDATE hms.encounters SET status = 'finished' WHERE id = :e"), {"e": stay.encounter_id})
        assert shred_patient(s, stay.patient_id, f"erasure-{uuid.uuid4()}", datetime.now(UTC)) == []
    cipher.forget(stay.patient_id)
    with fhir_services.sessions() as s:
        with pytest.raises(DataErased):
            repo.get_observation(s, cipher, oid)
        assert repo.search_observations(s, cipher, patient_id=stay.patient_id) == []

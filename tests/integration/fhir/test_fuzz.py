"""Property-based fuzzing of the FHIR entry points: whatever arrives, no 5xx, always an OperationOutcome
or a resource, and a refused transaction leaves nothing behind."""
from __future__ import annotations

import json
from urllib.parse import quote

import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.storage.models_observations import Observation
from api.app import create_app
from api.fhir import registry as reg
from tests.integration.fhir.conftest import FHIR, observation

#: Every served type (writes of each: stored, staged and journey writes alike), plus two that are not.
TYPES = [rt.name for rt in reg.all_types()] + ["Bundle", "Nope"]
#: Types whose writes a journey carries out: with no workflow engine (this app has none) their valid
#: writes answer 503 (try again), which is the one 5xx allowed here.
JOURNEY_TYPES = {rt.name for rt in reg.all_types() if rt.stage or rt.journey_create or rt.journey_update}
PARAMS = ["_id", "identifier", "name", "family", "birthdate", "gender", "patient", "subject", "encounter", "date",
          "status", "category", "code", "_count", "_offset", "_sort", "_include", "_format", "name:exact", "x"]
ELEMENTS = ["resourceType", "id", "status", "subject", "encounter", "code", "category", "valueQuantity",
            "effectiveDateTime", "identifier", "name", "gender", "birthDate", "patient", "provision", "meta",
            "hasMember", "entry", "type", "basedOn", "request", "lineItem", "section", "location", "participant",
            "reasonCode", "clinicalStatus", "intent", "medicationCodeableConcept", "conclusion", "presentedForm",
            "totalGross", "insurance", "content", "context", "statusReason", "dosageInstruction"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=30), st.sampled_from(["Patient/x", "urn:uuid:a", "2026-01-01", "final",
                                                           "ge2020", "http://loinc.org|1-8", "PSY"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(ELEMENTS) | st.text(max_size=8), inner,
                                                 max_size=5)), max_leaves=25)
resources = st.builds(lambda rtype, fields: {"resourceType": rtype, **fields}, st.sampled_from(TYPES),
                      st.dictionaries(st.sampled_from(ELEMENTS), json_values, max_size=6))


def _client(fhir_services) -> TestClient:
    return TestClient(create_app(fhir_services), base_url="https://hms.test", raise_server_exceptions=False)


def _ok(response, unavailable_allowed: bool = False) -> None:
    assert response.status_code < 500 or (unavailable_allowed and response.status_code == 503), response.text
    assert response.headers["content-type"].startswith(FHIR)
    assert "resourceType" in response.json()


def _stored(services, patient_id: str) -> int:
    with services.sessions() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Observation).where(Observation.patient_id == patient_id))


def test_fuzz_writes(fhir_services, auth, admitted):
    client, h = _client(fhir_services), {**auth("attending-1", "attending_physician"), "Content-Type": FHIR}

    @FUZZ
    @given(rtype=st.sampled_from(TYPES), body=st.one_of(resources, json_values), rid=st.text(max_size=70),
           raw=st.binary(max_size=60))
    def run(rtype, body, rid, raw):
        journey = rtype in JOURNEY_TYPES
        _ok(client.post(f"/fhir/r4/{rtype}", content=json.dumps(body), headers=h), journey)
        _ok(client.put(f"/fhir/r4/{rtype}/{quote(rid, safe='')}", content=json.dumps(body), headers=h), journey)
        _ok(client.post(f"/fhir/r4/{rtype}", content=raw, headers=h))

    run()


def test_fuzz_mutated_valid_observations(fhir_services, auth, admitted):
    """Valid results with one element replaced: the store's checks, not only the model's, are exercised."""
    stay = admitted()
    client, h = _client(fhir_services), {**auth("attending-1", "attending_physician"), "Content-Type": FHIR}
    base = observation(stay.patient_id, stay.encounter_id, identifier="fuzz-1")

    @FUZZ
    @given(element=st.sampled_from(ELEMENTS + ["effectiveInstant", "issued", "effectivePeriod"]), value=json_values)
    def run(element, value):
        before = _stored(fhir_services, stay.patient_id)
        r = client.post("/fhir/r4/Observation", json={**base, element: value}, headers=h)
        _ok(r)
        assert _stored(fhir_services, stay.patient_id) == before + (1 if r.status_code == 201 else 0)

    run()


def test_fuzz_searches(fhir_services, auth):
    client, h = _client(fhir_services), auth("attending-1", "attending_physician")

    @FUZZ
    @given(rtype=st.sampled_from(TYPES), params=st.lists(st.tuples(st.sampled_from(PARAMS), st.text(max_size=40)),
                                                         max_size=5))
    def run(rtype, params):
        _ok(client.get(f"/fhir/r4/{rtype}", params=params, headers=h))

    run()


def test_fuzz_transactions_write_all_or_nothing(fhir_services, auth, admitted):
    stay = admitted()
    client, h = _client(fhir_services), {**auth("attending-1", "attending_physician"), "Content-Type": FHIR}
    good = {"resource": observation(stay.patient_id, stay.encounter_id),
            "request": {"method": "POST", "url": "Observation"}}
    entries = st.one_of(st.just(good), st.builds(lambda r, m, u: {"resource": r, "request": {"method": m, "url": u}},
                                                 resources, st.sampled_from(["POST", "PUT", "GET", "DELETE"]),
                                                 st.sampled_from(["Observation", "Patient", "Observation/x", ""])))

    @FUZZ
    @given(kind=st.sampled_from(["transaction", "batch"]), items=st.lists(entries, max_size=4))
    def run(kind, items):
        before = _stored(fhir_services, stay.patient_id)
        r = client.post("/fhir/r4", json={"resourceType": "Bundle", "type": kind, "entry": items}, headers=h)
        _ok(r)
        after = _stored(fhir_services, stay.patient_id)
        if kind == "transaction" and r.status_code != 200:
            assert after == before
        if kind == "transaction" and r.status_code == 200:
            assert after == before + sum(1 for e in items if e is good)

    run()

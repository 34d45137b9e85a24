"""OperationOutcome errors, versions, Bundle rendering and reference rewriting, the CapabilityStatement."""
from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from api.fhir import registry
from api.fhir.bundles import _rewrite, searchset
from api.fhir.capability import capability_statement
from api.fhir.errors import FhirError, error_response, validation_error
from api.fhir.versions import content_version, finish, matches_if_match, validate


@pytest.mark.parametrize(("status", "code"), [(400, "invalid"), (403, "forbidden"), (404, "not-found"),
                                               (409, "conflict"), (412, "conflict"), (422, "processing")])
def test_errors_render_as_operation_outcomes(status, code):
    response = error_response(FhirError(status, "why"))
    assert response.status_code == status and response.media_type == "application/fhir+json"
    body = json.loads(response.body)
    OperationOutcome.model_validate(body)
    assert body["issue"][0] == {"severity": "error", "code": code, "diagnostics": "why"}


def test_model_validation_errors_are_422_with_locations():
    rt = registry.get("Patient")
    with pytest.raises(FhirError) as err:
        validate(rt, {"resourceType": "Patient", "gender": 5, "birthDate": "someday"})
    assert err.value.status == 422 and err.value.expression
    with pytest.raises(FhirError) as wrong:
        validate(rt, {"resourceType": "Observation"})
    assert wrong.value.status == 400
    assert validation_error(ValueError("plain"), "x: ").status == 422


def test_versions_and_if_match():
    r = {"resourceType": "Patient", "id": "p", "gender": "male"}
    v = content_version(r)
    assert v == content_version({**r, "meta": {"lastUpdated": "2026"}}) != content_version({**r, "gender": "x"})
    served, extra = finish({**r, "_policy": {"assigned_to": "rad-1"}})
    assert served["meta"]["versionId"] == v and extra == {"assigned_to": "rad-1"} and "_policy" not in served
    assert matches_if_match(None, served) and matches_if_match(f'W/"{v}"', served)
    assert matches_if_match(f'"{v}"', served) and not matches_if_match('W/"nope"', served)


def test_searchset_links_and_modes():
    p = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}}
    o = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}, "meta": {}}
    b = searchset("https://h/fhir/r4", "https://h/fhir/r4/Observation?_count=1", [o], [p],
                  "https://h/next", "https://h/prev")
    Bundle.model_validate(b)
    assert [link["relation"] for link in b["link"]] == ["self", "next", "previous"]
    assert [(e["fullUrl"], e["search"]["mode"]) for e in b["entry"]] == [
        ("https://h/fhir/r4/Observation/o1", "match"), ("https://h/fhir/r4/Patient/p1", "include")]


def test_rewrite_replaces_only_known_urn_references():
    body = {"subject": {"reference": "urn:uuid:1"}, "hasMember": [{"reference": "urn:uuid:2"},
                                                                  {"reference": "Observation/x"}], "note": "urn:uuid:1"}
    out = _rewrite(body, {"urn:uuid:1": "Patient/a", "urn:uuid:2": "Observation/b"})
    assert out == {"subject": {"reference": "Patient/a"}, "hasMember": [{"reference": "Observation/b"},
                                                                        {"reference": "Observation/x"}],
                   "note": "urn:uuid:1"}


def test_capability_statement_comes_from_the_registry():
    cap = capability_statement("https://h/fhir/r4")
    CapabilityStatement.model_validate(cap)
    listed = {r["type"]: {i["code"] for i in r["interaction"]} for r in cap["rest"][0]["resource"]}
    for rt in registry.all_types():
        assert listed[rt.name] == set(rt.interactions())
        served = {"read": rt.read, "search-type": rt.search, "create": rt.create or rt.stage or rt.journey_create,
                  "update": rt.update or rt.journey_update}
        if not rt.external:
            assert {name for name, fn in served.items() if fn} == listed[rt.name]
    assert listed["AuditEvent"] == {"read", "search-type"}


def test_labels_are_kept_or_refused_never_dropped():
    labelled = {"meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}]}}
    with pytest.raises(FhirError) as err:
        validate(registry.get("Patient"), {"resourceType": "Patient", **labelled})
    assert err.value.status == 422
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **labelled}
    assert validate(registry.get("Observation"), obs) is obs

"""Property-based fuzzing of the running API from its own OpenAPI document (schemathesis).

Every operation of ``/openapi.json`` (the task API and the FHIR R4 facade under ``/fhir/r4``) is
called with generated requests under a valid bearer token of a role that may use it, and no
answer may be a 5xx: bad input is a clear 4xx, never a 500. Half of the generated path ids are
replaced by those of a patient admitted for this test (deterministically, from the generated
value), so the fuzzing reaches past the 404 into validation, policy and the workflows.

Where the declared response schema describes what a 2xx carries (routes with a response model),
the answer is also checked against it; error shapes are the project's own (``{"detail": str,
"errors": [...]}`` for 422), not FastAPI's default, so 4xx bodies are not checked.

The document declares no OpenAPI links, so there is no stateful (link-following) phase.
Budget: ``MAX_EXAMPLES`` per operation, derandomized (the same cases every run).
"""
from __future__ import annotations

import ssl
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 10
#: Path prefix → the role that may use those operations (longest prefix wins); others: the attending.
ROLE_BY_PREFIX = {
    "/api/v1/admissions": "registration_clerk",
    "/api/v1/intake": "registration_clerk",
    "/api/v1/audit": "compliance_officer",
    "/fhir/r4/AuditEvent": "compliance_officer",
    "/api/v1/ops/compliance": "compliance_officer",
    "/api/v1/ops": "manager",
    "/api/v1/forecast": "manager",
    "/api/v1/imaging": "radiologist",
    "/api/v1/pharmacy": "pharmacist",
    "/api/v1/medication-orders": "pharmacist",
    "/api/v1/encounters": "billing_clerk",
    "/api/v1/invoices": "billing_clerk",
    "/api/v1/claims": "billing_clerk",
    "/api/v1/triage": "triage_nurse",
    "/codec": "admin",
}
#: Operations whose 2xx answers are checked against their declared response schema (a response model).
CONFORMING = {
    ("GET", "/healthz"), ("GET", "/api/v1/journeys/{journey_id}"), ("GET", "/api/v1/tasks"),
    ("GET", "/api/v1/patients/{patient_id}"), ("POST", "/api/v1/triage/score"),
}
#: Path parameters replaced (for half of the examples) by the test patient's identifiers.
REAL_IDS = ("patient_id", "journey_id", "encounter_id")


def role_for(path: str) -> str:
    matches = [p for p in ROLE_BY_PREFIX if path == p or path.startswith(p + "/") or path.startswith(p + "?")]
    return ROLE_BY_PREFIX[max(matches, key=len)] if matches else "attending_physician"


def _pick(value: Any, choices: list[str]) -> str | None:
    """A real value for half of the generated ones, chosen from the generated value (deterministic)."""
    digest = zlib.crc32(repr(value).encode())
    return choices[(digest >> 1) % len(choices)] if digest % 2 == 0 else None


@pytest.fixture(scope="module")
def api_ssl(stack) -> ssl.SSLContext:  # noqa: ANN001
    return ssl.create_default_context(cafile=str(stack.ca_cert))


@pytest.fixture(scope="module")
def fuzz_world(stack, api_ssl: ssl.SSLContext) -> dict[str, Any]:  # noqa: ANN001
    """A patient admitted for this test (the attending's care team) and the FHIR types served."""
    clerk = {"Authorization": f"Bearer {stack.token(role='registration_clerk')}"}
    attending = {"Authorization": f"Bearer {stack.token(role='attending_physician')}"}
    body = {"patient": {"identifier": f"FUZZ-{uuid.uuid4().hex[:8]}", "given": "Lena", "family": "Novak",
                        "birth_date": "1975-03-04", "gender": "female"},
            "ward": "medical", "reason": "observation", "consent": True}
    with httpx.Client(base_url=stack.api_url, verify=api_ssl, timeout=30) as c:
        r = c.post("/api/v1/admissions", json=body, headers=clerk)
        assert r.status_code == 202, r.text
        started = r.json()
        deadline = time.monotonic() + 240
        while c.get(f"/api/v1/journeys/{started['journey_id']}", headers=attending).status_code != 200:
            assert time.monotonic() < deadline, "the fuzz patient's journey never became readable"
            time.sleep(0.25)
        meta = c.get("/fhir/r4/metadata").json()
    types = sorted(r["type"] for r in meta["rest"][0]["resource"])
    return {"patient_id": [started["patient_id"]], "journey_id": [started["journey_id"]],
            "encounter_id": [started["encounter_id"]], "rtype": types, "rid": [started["patient_id"]]}


@pytest.fixture(scope="module")
def http(api_ssl: ssl.SSLContext, stack) -> Iterator[requests.Session]:  # noqa: ANN001
    session = requests.Session()
    session.verify = str(stack.ca_cert)
    yield session
    session.close()


@pytest.fixture(scope="module")
def api_schema(stack, api_ssl: ssl.SSLContext) -> schemathesis.BaseSchema:  # noqa: ANN001
    """The OpenAPI document the running API serves (fetched over TLS 1.3 with the stack's CA)."""
    r = httpx.get(f"{stack.api_url}/openapi.json", verify=api_ssl, timeout=30)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert not any("links" in resp for item in doc["paths"].values() for op in item.values()
                   if isinstance(op, dict) for resp in op.get("responses", {}).values())
    assert any(p.startswith("/fhir/r4") for p in doc["paths"]), "the FHIR base is in the document"
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.base_url = stack.api_url
    return schema


def _conforms_when_ok(ctx: Any, response: Any, case: Any) -> bool | None:
    """Response-schema conformance for the 2xx of the operations that declare a response model."""
    if (case.method.upper(), case.path) in CONFORMING and 200 <= response.status_code < 300:
        return response_schema_conformance(ctx, response, case)
    return None


def _fuzz(operation: Any, mode: GenerationMode, stack: Any, world: dict[str, Any],  # noqa: ANN401
          http: requests.Session) -> None:
    """Run ``MAX_EXAMPLES`` generated cases of one operation in one generation mode (shrunk on failure)."""
    headers = {"Authorization": f"Bearer {stack.token(role=role_for(operation.path))}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        for name in list(case.path_parameters or {}):
            if name in world:
                real = _pick(case.path_parameters[name], world[name])
                if real is not None:
                    case.path_parameters[name] = real
        response = case.call(session=http, headers=headers, timeout=60, verify=http.verify)
        case.validate_response(response, checks=[not_a_server_error, _conforms_when_ok], headers=headers)

    run()


def test_no_server_error(api_schema: schemathesis.BaseSchema, stack, fuzz_world: dict[str, Any],  # noqa: ANN001
                         http: requests.Session) -> None:
    """Every operation, valid and invalid generated input, under a role allowed to call it: never a 5xx."""
    failures: list[str] = []
    tested = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, stack, fuzz_world, http)
            except Unsatisfiable:  # nothing invalid to generate (e.g. no parameters at all)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, every operation runs;
                # schemathesis reports failed checks as a FailureGroup (a BaseExceptionGroup)
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {str(exc)[:1500]}")
            tested += 1
    assert tested >= 2 * 60, f"only {tested} operation × mode runs"
    assert not failures, "\n\n".join(failures)

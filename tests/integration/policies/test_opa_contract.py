"""The acceptance matrix against a real OPA server: the contract both engines must meet.

Runs when ``HMS_OPA_URL`` names a reachable OPA server (for example
``opa run --server --addr 127.0.0.1:8181``); the bundle is pushed to it first with
``policies.opa_server.push_bundle``. Without a server it skips.
"""
from __future__ import annotations

import os

import pytest

from policies.acceptance import CASES, Case
from policies.embedded import EmbeddedPolicyEngine
from policies.opa_server import OpaServerPolicyEngine, opa_client_for, push_bundle

NO_SERVER = "HMS_OPA_URL not set: no OPA server to run the contract suite against"


@pytest.fixture(scope="module")
def opa_engine() -> OpaServerPolicyEngine:
    url = os.environ.get("HMS_OPA_URL")
    if not url:
        pytest.skip(NO_SERVER)
    client = opa_client_for(url, timeout=5.0)
    try:
        client.check_connection()
    except Exception as exc:  # unreachable is a skip, like an unset URL
        pytest.skip(f"HMS_OPA_URL={url} is not reachable ({type(exc).__name__}): no OPA server to run against")
    push_bundle(client)
    return OpaServerPolicyEngine(url, timeout=5.0)


@pytest.fixture(scope="module")
def embedded() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_acceptance_matrix_on_opa(opa_engine: OpaServerPolicyEngine, case: Case) -> None:
    decision = opa_engine.decide(case.input)
    assert decision.allow is case.allow, decision.reason
    assert case.reason_contains in decision.reason


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_reason_as_embedded(opa_engine: OpaServerPolicyEngine, embedded: EmbeddedPolicyEngine,
                                 case: Case) -> None:
    assert opa_engine.decide(case.input) == embedded.decide(case.input)


def test_malformed_input_denied_by_opa(opa_engine: OpaServerPolicyEngine) -> None:
    decision = opa_engine.decide({"subject": "nobody", "action": "read", "resource": {"type": "Patient"}})
    assert decision.allow is False
    assert decision.reason.startswith("malformed input: ")

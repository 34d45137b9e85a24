"""The decision cache: same answer as the engine, never for time-dependent or failed decisions."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from policies.acceptance import CASES
from policies.cache import CachingPolicyEngine, cache_key
from policies.embedded import EmbeddedPolicyEngine
from policies.engine import UNAVAILABLE, Decision

AUTHZ = Path(__file__).parents[3] / "policies" / "hms" / "authz"


@pytest.fixture(scope="module")
def engine() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine()


class Counting:
    def __init__(self, answers: list[Decision]) -> None:
        self.answers, self.calls, self.policy_version = answers, 0, "v-test"

    def decide(self, input):  # noqa: A002
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def _request(**context) -> dict:
    return {"subject": {"id": "nurse-1", "role": "nurse"}, "action": "read",
            "resource": {"type": "vitals", "patient_id": "p-1", "ward": "medical"},
            "context": {"purpose": "TREAT", "now": "2026-11-25T10:00:00Z", "break_glass": None, **context}}


def test_the_bundle_reads_the_clock_only_for_break_glass_expiry() -> None:
    # The cache leaves `now` out of the key; that is sound only while no other rule reads it.
    readers = [p.relative_to(AUTHZ).as_posix() for p in AUTHZ.rglob("*.rego")
               if not p.name.endswith("_test.rego") and re.search(r"\.now\b|\bnow\b", p.read_text())]
    assert readers == ["breakglass/breakglass.rego"]
    text = (AUTHZ / "breakglass" / "breakglass.rego").read_text()
    assert "common.context.now" in text and "grant.expires_at" in text


def test_decisions_without_a_grant_do_not_depend_on_the_clock(engine: EmbeddedPolicyEngine) -> None:
    checked = 0
    for case in CASES:
        doc = copy.deepcopy(case.input)
        context = doc.get("context")
        if not isinstance(context, dict) or context.get("break_glass") is not None:
            continue
        answers = set()
        for now in ("1999-01-01T00:00:00Z", "2026-11-25T10:00:00Z", "2099-12-31T23:59:59Z"):
            context["now"] = now
            d = engine.decide(doc)
            answers.add((d.allow, d.reason))
        assert len(answers) == 1, case
        checked += 1
    assert checked > 50


def test_identical_requests_are_decided_once_and_answered_alike(engine: EmbeddedPolicyEngine) -> None:
    cached = CachingPolicyEngine(engine)
    for case in CASES:
        first, again = cached.decide(case.input), cached.decide(copy.deepcopy(case.input))
        expected = engine.decide(case.input)
        assert (first.allow, first.reason) == (again.allow, again.reason) == (expected.allow, expected.reason)
    assert cached.hits >= len([c for c in CASES if (c.input.get("context") or {}).get("break_glass") is None
                               and isinstance(c.input.get("context"), dict)]) - 5


def test_a_changed_fact_is_a_different_key() -> None:
    base = _request()
    later = _request(now="2026-11-25T11:00:00Z")
    assert cache_key(base) == cache_key(later)  # the clock alone does not matter
    withdrawn = copy.deepcopy(base)
    withdrawn["resource"]["consent"] = {"TREAT": "withdrawn"}
    moved = copy.deepcopy(base)
    moved["resource"]["ward"] = "icu"
    assert len({cache_key(base), cache_key(withdrawn), cache_key(moved)}) == 3


def test_requests_under_a_grant_and_engine_failures_are_never_cached() -> None:
    ok = Decision(True, "granted", "v-test")
    inner = Counting([ok])
    cached = CachingPolicyEngine(inner)
    grant = _request(break_glass={"patient_id": "p-1", "expires_at": "2026-11-25T11:00:00Z"})
    assert cache_key(grant) is None
    cached.decide(grant)
    cached.decide(grant)
    assert inner.calls == 2

    failing = Counting([Decision(False, UNAVAILABLE + "evaluation error", "v-test"), ok])
    cached = CachingPolicyEngine(failing)
    assert not cached.decide(_request()).allow
    assert cached.decide(_request()).allow  # the failure was not remembered
    assert cached.decide(_request()).allow and failing.calls == 2


def test_entries_expire_and_the_cache_is_bounded() -> None:
    now = [0.0]
    inner = Counting([Decision(True, "a", "v"), Decision(False, "b", "v"), Decision(True, "c", "v")])
    cached = CachingPolicyEngine(inner, ttl_seconds=10, max_entries=2, clock=lambda: now[0])
    assert cached.decide(_request()).reason == "a"
    now[0] = 9.9
    assert cached.decide(_request()).reason == "a"
    now[0] = 10.1
    assert cached.decide(_request()).reason == "b"
    for ward in ("w1", "w2", "w3"):
        req = _request()
        req["resource"]["ward"] = ward
        cached.decide(req)
    assert len(cached) == 2


def test_input_that_is_not_json_is_denied_as_malformed() -> None:
    cached = CachingPolicyEngine(Counting([Decision(True, "x", "v")]))
    decision = cached.decide({"subject": object()})
    assert not decision.allow and decision.reason.startswith("malformed input")
    with pytest.raises(ValueError):
        CachingPolicyEngine(Counting([]), ttl_seconds=0)

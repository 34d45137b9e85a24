"""The embedded engine against the acceptance matrix, and its fail-closed behaviour."""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
import threading
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from policies import Decision, PolicyEngine, build_engine
from policies.acceptance import CASES, SUBJECTS, Case, context, record
from policies.bundle import DEFAULT_BUNDLE_DIR, load_bundle
from policies.embedded import EmbeddedPolicyEngine
from policies.opa_server import OpaServerPolicyEngine

UNAVAILABLE = "policy engine unavailable: "


@pytest.fixture(scope="module")
def engine() -> EmbeddedPolicyEngine:
    built = EmbeddedPolicyEngine()
    assert built.healthy, built.error
    return built


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A private copy of the bundle (policy files only) to break or change."""
    target = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE_DIR / "hms", target / "hms")
    return target


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_acceptance_matrix(engine: EmbeddedPolicyEngine, case: Case) -> None:
    decision = engine.decide(case.input)
    assert decision.allow is case.allow, decision.reason
    assert case.reason_contains in decision.reason
    assert decision.policy_version == engine.policy_version


def test_matrix_covers_every_role_both_ways() -> None:
    seen: dict[str, set[bool]] = {}
    for case in CASES:
        seen.setdefault(case.input["subject"]["role"], set()).add(case.allow)
    roles = json.loads((DEFAULT_BUNDLE_DIR / "hms/authz/data.json").read_text())["roles"]["all"]
    assert {role: {True, False} for role in roles} == seen


def test_break_glass_allow_is_flagged_and_ordinary_allow_is_not(engine: EmbeddedPolicyEngine) -> None:
    ordinary = engine.decide({"subject": SUBJECTS["attending"], "action": "read", "resource": record("Note"),
                              "context": context("p1")})
    emergency = engine.decide({"subject": SUBJECTS["attending2"], "action": "read", "resource": record("Note"),
                               "context": context("p1")})
    assert ordinary.allow and "break-glass" not in ordinary.reason
    assert emergency.allow and emergency.reason.startswith("break-glass: ")


def test_datetimes_in_context_are_accepted(engine: EmbeddedPolicyEngine) -> None:
    now = dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC)
    doc = {"subject": SUBJECTS["attending2"], "action": "read", "resource": record("Note"),
           "context": {"purpose": None, "now": now,
                       "break_glass": {"patient_id": "p1", "expires_at": now + dt.timedelta(hours=1)}}}
    assert engine.decide(doc).allow
    doc["context"]["break_glass"]["expires_at"] = now - dt.timedelta(seconds=1)
    assert not engine.decide(doc).allow


def test_naive_datetimes_never_open_break_glass(engine: EmbeddedPolicyEngine) -> None:
    now = dt.datetime(2026, 11, 25, 13, 0)
    doc = {"subject": SUBJECTS["attending2"], "action": "read", "resource": record("Note"),
           "context": {"now": now, "break_glass": {"patient_id": "p1", "expires_at": now + dt.timedelta(hours=1)}}}
    assert not engine.decide(doc).allow


GOOD = CASES[0].input

MALFORMED: list[Any] = [
    None,
    [],
    "attending-1",
    {},
    {k: v for k, v in GOOD.items() if k != "action"},
    {**GOOD, "subject": {**GOOD["subject"], "role": "root"}},
    {**GOOD, "subject": {**GOOD["subject"], "id": ""}},
    {**GOOD, "resource": {**GOOD["resource"], "type": "Everything"}},
    {**GOOD, "resource": "Patient/p1"},
    {**GOOD, "context": "TREAT"},
    {**GOOD, "extra": object()},
    {**GOOD, "resource": {**GOOD["resource"], "score": float("nan")}},
]


@pytest.mark.parametrize("doc", MALFORMED, ids=[f"malformed-{i}" for i in range(len(MALFORMED))])
def test_malformed_input_is_denied(engine: EmbeddedPolicyEngine, doc: Any) -> None:
    decision = engine.decide(doc)
    assert decision.allow is False
    assert decision.reason.startswith("malformed input: ")


def test_policy_version_is_a_short_content_hash(engine: EmbeddedPolicyEngine, bundle_copy: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", engine.policy_version)
    assert engine.policy_version == load_bundle().version == EmbeddedPolicyEngine(bundle_copy).policy_version
    data = bundle_copy / "hms/authz/data.json"
    data.write_text(data.read_text().replace('"HPAYMT"', '"HOPERAT"'))
    assert EmbeddedPolicyEngine(bundle_copy).policy_version != engine.policy_version


def test_test_modules_are_not_part_of_the_policy(bundle_copy: Path) -> None:
    (bundle_copy / "hms/authz/extra_test.rego").write_text("package hms.authz.extra_test\n")
    assert load_bundle(bundle_copy).version == load_bundle().version
    assert not any(name.endswith("_test.rego") for name in load_bundle().modules)


def _assert_unavailable(decision: Decision) -> None:
    assert decision.allow is False
    assert decision.reason.startswith(UNAVAILABLE)


def test_broken_bundle_denies_with_reason(bundle_copy: Path) -> None:
    (bundle_copy / "hms/authz/authz.rego").write_text("package hms.authz\nimport rego.v1\ndecision := {\n")
    broken = EmbeddedPolicyEngine(bundle_copy)
    assert not broken.healthy
    for case in CASES[:5]:
        _assert_unavailable(broken.decide(case.input))


def test_unreadable_data_denies_with_reason(bundle_copy: Path) -> None:
    (bundle_copy / "hms/authz/data.json").write_text("{not json")
    _assert_unavailable(EmbeddedPolicyEngine(bundle_copy).decide(GOOD))


def test_empty_bundle_denies_with_reason(tmp_path: Path) -> None:
    _assert_unavailable(EmbeddedPolicyEngine(tmp_path).decide(GOOD))


@pytest.mark.parametrize("body", ['decision := "allow"', 'decision := {"allow": "true", "reason": "x"}',
                                  'decision := {"allow": true}', "other := true"])
def test_malformed_or_missing_decision_denies(tmp_path: Path, body: str) -> None:
    (tmp_path / "hms").mkdir()
    (tmp_path / "hms/policy.rego").write_text(f"package hms.authz\nimport rego.v1\n{body}\n")
    decision = EmbeddedPolicyEngine(tmp_path).decide(GOOD)
    _assert_unavailable(decision)


class _RaisingInterpreter:
    def set_input(self, value: Any) -> None:
        raise RuntimeError("interpreter gone")


class _FailingOutput:
    def ok(self) -> bool:
        return False


class _ErroringInterpreter:
    def set_input(self, value: Any) -> None:
        pass

    def query_bundle(self, bundle: Any) -> _FailingOutput:
        return _FailingOutput()


@pytest.mark.parametrize("runner", [_RaisingInterpreter(), _ErroringInterpreter()], ids=["raises", "errors"])
def test_interpreter_failure_denies_without_raising(runner: Any) -> None:
    failing = EmbeddedPolicyEngine()
    failing._runner = runner
    for case in [c for c in CASES if c.allow][:5]:
        decision = failing.decide(case.input)
        _assert_unavailable(decision)
        assert "interpreter gone" not in decision.reason  # causes are types, never messages


def test_concurrent_decisions_are_consistent(engine: EmbeddedPolicyEngine) -> None:
    cases = CASES[:20]
    errors: list[str] = []

    def work(offset: int) -> None:
        for i in range(60):
            case = cases[(i + offset) % len(cases)]
            if engine.decide(copy.deepcopy(case.input)).allow is not case.allow:
                errors.append(case.id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_decision_is_frozen() -> None:
    decision = Decision(False, "x", "v")
    with pytest.raises(FrozenInstanceError):
        decision.allow = True  # type: ignore[misc]


def test_build_engine_picks_backend() -> None:
    embedded = build_engine(None)
    remote = build_engine("http://127.0.0.1:8181")
    assert isinstance(embedded, EmbeddedPolicyEngine) and isinstance(embedded, PolicyEngine)
    assert isinstance(remote, OpaServerPolicyEngine) and isinstance(remote, PolicyEngine)

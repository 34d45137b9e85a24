"""Every Rego ``test_*`` rule of the bundle as its own pytest test, plus the runner's own behaviour."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from policies.testing import discover_rego_tests, run_rego_tests, run_rego_tests_detailed

DISCOVERED = [t.name for t in discover_rego_tests()]


@pytest.fixture(scope="module")
def suite_results() -> dict[str, bool]:
    """The whole bundle's Rego suite, evaluated once (one compile) for all parametrised tests."""
    return dict(run_rego_tests())


def test_suite_is_not_empty() -> None:
    assert len(DISCOVERED) >= 50, "no (or suspiciously few) test_* rules found in the bundle"


@pytest.mark.parametrize("rule", DISCOVERED)
def test_rego_rule(rule: str, suite_results: dict[str, bool]) -> None:
    assert suite_results.get(rule) is True, f"Rego test {rule} failed"


POLICY = """package demo
import rego.v1

allow if input.x == 1
"""

TESTS = """package demo_test
import rego.v1

test_allows_one if { data.demo.allow with input.x as 1 }

test_wrongly_expects_two if { data.demo.allow with input.x as 2 }

not_a_test if { true }
"""


def _bundle(tmp_path: Path, tests: str = TESTS) -> Path:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "demo.rego").write_text(POLICY)
    (tmp_path / "demo" / "demo_test.rego").write_text(tests)
    return tmp_path


def test_runner_reports_pass_and_fail(tmp_path: Path) -> None:
    results = run_rego_tests(_bundle(tmp_path))
    assert results == [("demo_test.test_allows_one", True), ("demo_test.test_wrongly_expects_two", False)]


def test_runner_in_process_agrees(tmp_path: Path) -> None:
    assert run_rego_tests(_bundle(tmp_path), isolate=False) == run_rego_tests(tmp_path)


def test_runner_survives_evaluator_crash(tmp_path: Path) -> None:
    # A whole-input "with" over a rule chain crashes rego-cpp 1.5 while compiling; the caller
    # must get every test back as failed, not die with the evaluator.
    crashing = TESTS + """
chained if data.demo.allow

test_whole_input_override if { chained with input as {"x": 1} }
"""
    results = run_rego_tests_detailed(_bundle(tmp_path, crashing))
    assert [name for name, _, _ in results] == [
        "demo_test.test_allows_one", "demo_test.test_wrongly_expects_two", "demo_test.test_whole_input_override"]
    crashed = dict((name, detail) for name, _, detail in results)["demo_test.test_whole_input_override"]
    assert dict((name, passed) for name, passed, _ in results)["demo_test.test_whole_input_override"] is False
    assert "crashed" in crashed or "undefined" in crashed


def _cli(bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "policies.testing", str(bundle)],
                          capture_output=True, text=True, check=False)


def test_cli_exits_non_zero_on_failure(tmp_path: Path) -> None:
    proc = _cli(_bundle(tmp_path))
    assert proc.returncode == 1
    assert "PASS demo_test.test_allows_one" in proc.stdout
    assert "FAIL demo_test.test_wrongly_expects_two" in proc.stdout


def test_cli_exits_zero_when_all_pass(tmp_path: Path) -> None:
    proc = _cli(_bundle(tmp_path, TESTS.replace("as 2", "as 1")))
    assert proc.returncode == 0, proc.stdout
    assert "2 passed, 0 failed" in proc.stdout


def test_cli_fails_when_no_tests_found(tmp_path: Path) -> None:
    proc = _cli(_bundle(tmp_path, "package demo_test\nimport rego.v1\n"))
    assert proc.returncode == 1
    assert "no test_* rules found" in proc.stderr

"""Runs the Rego unit tests (``test_*`` rules in ``*_test.rego``) with regopy.

Why a runner of our own: no OPA binary is available from any registry, so
``opa test`` cannot be the gate. Each rule is evaluated with the embedded
evaluator against the whole bundle (policies, fixtures, data) and passes only if
it evaluates to ``true``.

rego-cpp can crash the process on constructs it mishandles, so by default the
tests run in a worker subprocess that streams one JSON line per result; a crash
fails the test that was running and the worker restarts after it.

``python -m policies.testing [BUNDLE_DIR]`` prints pass/fail per rule and exits
non-zero on any failure or when no test is found.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.bundle import DEFAULT_BUNDLE_DIR, load_bundle

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)
# rego-cpp compiles every module for every query, so a crash is usually bundle-wide:
# after this many crashes in a row with no result, the rest are failed without retrying.
_MAX_BLIND_CRASHES = 3


@dataclass(frozen=True)
class RegoTest:
    """One ``test_*`` rule: ``name`` is ``package.rule``, the query is ``data.<name>``."""

    name: str
    file: str

    @property
    def query(self) -> str:
        return f"data.{self.name}"


def discover_rego_tests(bundle_dir: Path | None = None) -> list[RegoTest]:
    """Every distinct ``test_*`` rule of every ``*_test.rego`` under the bundle, in file order."""
    root = Path(bundle_dir or DEFAULT_BUNDLE_DIR)
    found: dict[str, RegoTest] = {}
    for path in sorted(root.rglob("*_test.rego")):
        text = path.read_text(encoding="utf-8")
        package = _PACKAGE.search(text)
        if not package:
            continue
        for rule in _TEST_RULE.findall(text):
            name = f"{package.group(1)}.{rule}"
            found.setdefault(name, RegoTest(name, str(path.relative_to(root))))
    return list(found.values())


def _evaluate_in_process(bundle_dir: Path, tests: list[RegoTest], *, batch: bool = True):
    """Yield ``(index, passed, detail)`` for each test, evaluating in this process.

    rego-cpp recompiles the whole bundle on every ``query`` (seconds, with the
    fixtures' ``with`` site), so by default all test packages are read in one query
    and each rule is looked up in the result. If that query fails, or with
    ``batch=False``, each test is queried alone, which says which one broke.
    """
    from regopy import Interpreter

    bundle = load_bundle(bundle_dir, include_tests=True)
    interp = Interpreter()
    for name, text in bundle.modules.items():
        interp.add_module(name, text)
    interp.add_data(bundle.data)
    interp.set_input({})
    documents: dict[str, Any] | None = None
    if batch and tests:
        packages = sorted({t.name.rsplit(".", 1)[0] for t in tests})
        try:
            output = interp.query("x = {" + ", ".join(f'"{p}": data.{p}' for p in packages) + "}")
            if output.ok() and len(output) == 1 and isinstance(output[0].bindings.get("x"), dict):
                documents = output[0].bindings["x"]
        except Exception:  # fall through to per-test queries for a precise failure
            documents = None
    for index, test in enumerate(tests):
        package, rule = test.name.rsplit(".", 1)
        if documents is not None:
            passed = documents.get(package, {}).get(rule) is True
            yield index, passed, "" if passed else "undefined or false"
            continue
        try:
            output = interp.query(test.query)
            passed = output.ok() and len(output) == 1 and output[0].expressions == [True]
            detail = "" if passed else (str(output) if not output.ok() else "undefined or false")
        except Exception as exc:  # a compile or evaluation error fails the test, not the run
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        yield index, passed, detail


def _evaluate_isolated(bundle_dir: Path, tests: list[RegoTest]) -> dict[int, tuple[bool, str]]:
    """Evaluate in worker subprocesses so a crash of the evaluator fails one test, not the caller.

    The first worker evaluates the batch; if it crashes, workers fall back to one
    query per test, and each crash fails exactly the test that was running.
    """
    results: dict[int, tuple[bool, str]] = {}
    start, batch, crashes = 0, True, 0
    while start < len(tests):
        command = [sys.executable, "-m", "policies.testing", "--worker", str(bundle_dir), "--start", str(start)]
        proc = subprocess.run(command + ([] if batch else ["--single"]), capture_output=True, text=True,
                              check=False)
        for line in proc.stdout.splitlines():
            record = json.loads(line)
            results[record["i"]] = (record["passed"], record["detail"])
        pending = [i for i in range(start, len(tests)) if i not in results]
        if not pending:
            break
        if proc.returncode == 0:  # the worker stopped early without crashing: report, don't loop
            for i in pending:
                results[i] = (False, "not evaluated")
            break
        if batch:
            batch = False
            continue
        cause = f"evaluator crashed (exit {proc.returncode}): {proc.stderr.strip()[-200:]}"
        crashes = crashes + 1 if len(pending) == len(tests) - start else 1
        if crashes >= _MAX_BLIND_CRASHES:  # it crashes compiling the bundle, whatever the test
            for i in pending:
                results[i] = (False, cause)
            break
        results[pending[0]] = (False, cause)
        start = pending[0] + 1
    return results


def run_rego_tests(bundle_dir: Path | None = None, *, isolate: bool = True) -> list[tuple[str, bool]]:
    """Discover and evaluate every Rego test; ``[(package.rule, passed)]`` in discovery order."""
    return [(name, passed) for name, passed, _ in run_rego_tests_detailed(bundle_dir, isolate=isolate)]


def run_rego_tests_detailed(
    bundle_dir: Path | None = None, *, isolate: bool = True
) -> list[tuple[str, bool, str]]:
    """Like :func:`run_rego_tests`, with a short failure detail per test."""
    root = Path(bundle_dir or DEFAULT_BUNDLE_DIR)
    tests = discover_rego_tests(root)
    if isolate:
        outcome = _evaluate_isolated(root, tests)
    else:
        outcome = {i: (passed, detail) for i, passed, detail in _evaluate_in_process(root, tests)}
    return [(t.name, *outcome.get(i, (False, "not evaluated"))) for i, t in enumerate(tests)]


def _worker(bundle_dir: Path, start: int, batch: bool) -> None:
    tests = discover_rego_tests(bundle_dir)[start:]
    for index, passed, detail in _evaluate_in_process(bundle_dir, tests, batch=batch):
        print(json.dumps({"i": start + index, "passed": passed, "detail": detail}), flush=True)


def main(argv: list[str] | None = None) -> int:
    """CLI: run the suite, print one line per test, exit 1 on any failure or none found."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--worker"]:
        _worker(Path(args[1]), int(args[3]) if args[2:3] == ["--start"] else 0, "--single" not in args)
        return 0
    bundle_dir = Path(args[0]) if args else DEFAULT_BUNDLE_DIR
    results = run_rego_tests_detailed(bundle_dir)
    for name, passed, detail in results:
        print(f"{'PASS' if passed else 'FAIL'} {name}" + (f"  ({detail})" if detail else ""))
    failed = sum(1 for _, passed, _ in results if not passed)
    print(f"{len(results) - failed} passed, {failed} failed")
    if not results:
        print("no test_* rules found", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``hms demo`` against the running stack: varied patients through complete journeys, then the ledger verifies."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deploy.demo_scenarios import DEFAULT_SEED, generate, mix

pytestmark = pytest.mark.e2e

PATIENTS = 10


def test_demo_completes_every_journey_settles_every_invoice_and_the_ledger_verifies(stack, tmp_path: Path) -> None:  # noqa: ANN001
    report = tmp_path / "demo.json"
    run = stack.hms("demo", "--patients", str(PATIENTS), "--report", str(report), timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(report.read_text())
    assert data["completed"] == PATIENTS and data["failed"] == []
    assert f"| completed | {PATIENTS} |" in run.stdout and "| failed | 0 |" in run.stdout
    assert f"{PATIENTS}/{PATIENTS} journeys" in run.stderr  # the progress bar

    # Every journey ended with an invoice whose claim a billing clerk settled.
    assert data["invoices"]["count"] == PATIENTS
    assert sum(data["invoices"]["settlements"].values()) == PATIENTS
    for j in data["journeys"]:
        assert j["ok"] and j["id"].startswith("journey-") and j["invoice_id"]
        assert j["settlement"] in ("paid", "denied") and float(j["invoice_total"]) > 0

    # The mix went through every stage and role it promises.
    scenarios = generate(PATIENTS, DEFAULT_SEED)
    m = mix(scenarios)
    assert data["stages"]["triage"]["journeys"] == m["ed"]
    assert data["stages"]["imaging"]["journeys"] == m["imaging"]
    assert data["stages"]["pharmacy"]["journeys"] == m["medications"]
    for role in ("triage_nurse", "nurse", "attending_physician", "radiologist", "pharmacist", "billing_clerk"):
        assert data["tasks_by_role"].get(role, 0) > 0, role

    # No patient data on the console: the synthetic names and birth dates are never printed.
    out = run.stdout + run.stderr
    for s in scenarios:
        for value in (s.given, s.family, s.birth_date):
            assert not re.search(rf"\b{re.escape(value)}\b", out), "patient data printed"

    verify = stack.hms("audit", "verify", timeout=600)
    assert verify.returncode == 0, verify.stdout + verify.stderr

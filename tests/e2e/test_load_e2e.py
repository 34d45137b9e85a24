"""Load on the running stack: 50 concurrent HTTPS clients, no unexpected answer, the audit exact.

A shorter run of ``hms bench load`` (``deploy/bench_load.py``): 50 clients, each on its own TLS 1.3
connection, run a ward's mix (patient, journey and inbox reads by the attending on the care
team, the nurse's inbox, triage scores, FHIR reads and searches, the compliance officer's ledger
searches, a few admissions) for ``SECONDS``. Every answer must have its expected status; the
ledger must then hold exactly one API entry per access, by actor and patient, in the window of
the run; and ``hms audit verify`` must pass. Latencies are printed, never asserted.
"""
from __future__ import annotations

import pytest

from deploy.bench_load import CLIENTS, bench_load

pytestmark = pytest.mark.e2e

SECONDS = 25.0


async def test_fifty_clients_no_errors_and_exact_audit(stack) -> None:  # noqa: ANN001
    report = await bench_load(stack.settings, seconds=SECONDS, clients=CLIENTS, baseline_seconds=5.0, env=stack.env)
    table = report.table()
    print(table)
    assert not report.load.errors and not report.baseline.errors, table
    assert sum(report.load.accesses.values()) > CLIENTS, "the clients made too few calls to say anything"
    assert {actor for actor, _ in report.expected} >= {"nurse-medical-1", "triage-nurse-1", "compliance-1"}
    assert report.recorded == report.expected, table
    assert report.verify_status == 0, table

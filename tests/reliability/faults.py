"""What every fault scenario shares: a demo run in the background, and the exactly-once checks after it.

The checks read the stack's PostgreSQL directly: stock moved once per dispense, one charge per
billable event with invoices equal to their charges, one ledger entry per side effect, and the
ledger's own verification (``hms audit verify``).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from activities.formulary.loader import load_formulary
from tests.e2e.conftest import RunningStack

PATIENTS = 6
CONCURRENCY = 3
DEMO_TIMEOUT = 600.0
#: Worker ledger entries of side effects that happen once per resource, whatever the retries.
ONCE_PER_RESOURCE = ("medication.dispense", "charge.record", "invoice.issue", "claim.submit", "claim.paid",
                     "claim.denied", "discharge.summary", "encounter.finished")


@dataclass
class Demo:
    """``hms demo`` as a background process, so a fault can be injected while its journeys run."""

    stack: RunningStack
    report: Path
    proc: subprocess.Popen[str] | None = None

    def start(self) -> Demo:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "demo", "--patients", str(PATIENTS), "--concurrency",
             str(CONCURRENCY), "--report", str(self.report)],
            env=self.stack.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def finish(self) -> dict[str, Any]:
        """Wait for the demo; assert it exited 0 with every journey completed; return its report."""
        assert self.proc is not None
        try:
            out, err = self.proc.communicate(timeout=DEMO_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the demo did not finish within {DEMO_TIMEOUT:g} s:\n{out}\n{err[-3000:]}") from None
        assert self.proc.returncode == 0, f"demo exited {self.proc.returncode}:\n{out}\n{err[-3000:]}"
        data = json.loads(self.report.read_text())
        assert data["completed"] == PATIENTS and data["failed"] == [], data["failed"]
        assert all(j["ok"] and j["settlement"] in ("paid", "denied") for j in data["journeys"])
        return data


def count(db: sa.Engine, sql: str, **params: Any) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def wait_mid_flight(db: sa.Engine, demo: Demo, encounters_before: int, journeys: int = 2,
                    timeout: float = 180.0) -> None:
    """Return once ``journeys`` of this demo's stays exist (admitted, so mid-journey) while it still runs."""
    deadline = time.monotonic() + timeout
    while count(db, "SELECT count(*) FROM hms.encounters") < encounters_before + journeys:
        assert demo.running, "the demo ended before its journeys were under way"
        assert time.monotonic() < deadline, f"fewer than {journeys} journeys started within {timeout:g} s"
        time.sleep(0.2)
    assert demo.running, "the demo ended before the fault"


def assert_exactly_once(db: sa.Engine) -> None:
    """No duplicate dispense, charge or ledger entry, whatever was retried or replayed."""
    initial = {d.code: d.initial_stock for d in load_formulary().drugs.values()}
    with db.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT s.drug_code, s.on_hand, coalesce(sum(m.quantity), 0) AS moved FROM hms.medication_stock s "
            "LEFT JOIN hms.medication_stock_movements m ON m.drug_code = s.drug_code GROUP BY 1, 2")).all()
        off = [(r.drug_code, r.on_hand, r.moved) for r in rows if r.on_hand != initial[r.drug_code] + r.moved]
        assert not off, f"stock differs from its movements (drug, on hand, moved): {off}"
        twice = conn.execute(sa.text(
            "SELECT order_id, kind, count(*) FROM hms.medication_stock_movements GROUP BY 1, 2 "
            "HAVING count(*) > 1")).all()
        assert not twice, f"orders with more than one dispense or return: {twice}"
        charged_twice = conn.execute(sa.text(
            "SELECT source, source_id, code, count(*) FROM hms.charge_items GROUP BY 1, 2, 3 HAVING count(*) > 1")).all()
        assert not charged_twice, f"billable events charged more than once: {charged_twice}"
        totals = conn.execute(sa.text(
            "SELECT i.id, i.total, coalesce(sum(c.amount), 0) AS charged FROM hms.invoices i "
            "LEFT JOIN hms.charge_items c ON c.invoice_id = i.id GROUP BY 1, 2 "
            "HAVING i.total <> coalesce(sum(c.amount), 0)")).all()
        assert not totals, f"invoices whose total is not the sum of their charges: {totals}"
        recorded_twice = conn.execute(sa.text(
            "SELECT subtype, resource_id, count(*) FROM audit.entries WHERE source = 'worker' "
            "AND subtype = ANY(:once) GROUP BY 1, 2 HAVING count(*) > 1"), {"once": list(ONCE_PER_RESOURCE)}).all()
        assert not recorded_twice, f"side effects recorded more than once in the ledger: {recorded_twice}"
        for subtype, table, where in (("charge.record", "hms.charge_items", "true"),
                                      ("medication.dispense", "hms.medication_stock_movements", "kind = 'dispense'")):
            entries = conn.execute(sa.text("SELECT count(*) FROM audit.entries WHERE source = 'worker' "
                                           "AND subtype = :s"), {"s": subtype}).scalar_one()
            rows_ = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one()
            assert entries == rows_, f"{rows_} rows in {table} but {entries} {subtype} ledger entries"


def assert_audit_verifies(stack: RunningStack) -> None:
    verify = stack.hms("audit", "verify", timeout=600)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def wait_restarted(stack: RunningStack, name: str, restarts_before: int, timeout: float = 180.0) -> dict[str, Any]:
    """The supervisor's row once it has restarted ``name`` and found it healthy again."""
    from tests.reliability.conftest import service

    deadline = time.monotonic() + timeout
    while True:
        row = service(stack, name)
        if row["restarts"] > restarts_before and row["state"] == "healthy":
            return row
        assert time.monotonic() < deadline, f"the supervisor did not bring {name} back: {row}"
        time.sleep(0.2)


class LogWatch:
    """The part of a service log written since this watch was made (to find unhandled exceptions)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new_text(self) -> str:
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            return fh.read().decode(errors="replace")


#: What uvicorn logs when a request ended in an unhandled exception, i.e. a 500.
UNHANDLED = "Exception in ASGI application"

"""kill -9 every journey worker in the middle of a demo, then start workers again.

Temporal hands the lost workflow and activity tasks to the new workers; every journey completes
and no side effect happens twice: each activity's idempotency key (a dispense's stock movement,
a charge's key, a ledger entry's event id) absorbs the retries of what the killed workers did.
"""
from __future__ import annotations

import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.reliability.conftest import Workers
from tests.reliability.faults import Demo, assert_audit_verifies, assert_exactly_once, count, wait_mid_flight

pytestmark = pytest.mark.e2e


def test_killing_every_worker_mid_demo_loses_and_duplicates_nothing(stack, workers: Workers, db: sa.Engine,  # noqa: ANN001
                                                                     tmp_path: Path) -> None:
    workers.ensure(2)
    before = count(db, "SELECT count(*) FROM hms.encounters")
    demo = Demo(stack, tmp_path / "demo.json").start()
    wait_mid_flight(db, demo, before)

    victims = workers.running()
    workers.kill(victims, signal.SIGKILL)
    assert all(p.returncode == -signal.SIGKILL for p in victims)
    workers.ensure(2)

    demo.finish()
    assert count(db, "SELECT count(*) FROM hms.encounters") == before + 6
    assert_exactly_once(db)
    assert_audit_verifies(stack)

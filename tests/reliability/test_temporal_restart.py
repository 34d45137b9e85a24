"""The Temporal dev server dies in the middle of a demo; the supervisor starts it again.

Its persistence is a file under HMS_HOME, so the journeys' histories survive: workers and the
API reconnect, the API answers 503 (not 500) while it is away, and every journey completes.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.reliability.conftest import Workers, service
from tests.reliability.faults import (
    UNHANDLED,
    Demo,
    LogWatch,
    assert_exactly_once,
    count,
    wait_mid_flight,
    wait_restarted,
)

pytestmark = pytest.mark.e2e


def test_temporal_restart_mid_demo_completes_every_journey(stack, workers: Workers, db: sa.Engine,  # noqa: ANN001
                                                           tmp_path: Path) -> None:
    workers.ensure(2)
    running = workers.running()
    api_log = LogWatch(stack.settings.log_dir / "api.log")
    before = count(db, "SELECT count(*) FROM hms.encounters")
    demo = Demo(stack, tmp_path / "demo.json").start()
    wait_mid_flight(db, demo, before)

    temporal = service(stack, "temporal")
    os.kill(temporal["pid"], signal.SIGKILL)
    restarted = wait_restarted(stack, "temporal", temporal["restarts"])
    assert restarted["pid"] != temporal["pid"]

    demo.finish()
    assert all(p.poll() is None for p in running), "a worker did not survive the server's restart"
    assert_exactly_once(db)
    assert UNHANDLED not in api_log.new_text()

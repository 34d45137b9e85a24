"""PostgreSQL goes away in the middle of a demo; the supervisor starts it again.

While it is away the API answers 503 with a JSON message (never 500) and activities fail and
are retried by Temporal; once it is back, every journey completes and nothing is lost or done twice.
"""
from __future__ import annotations

import os
import signal
import ssl
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.reliability.conftest import Workers, service
from tests.reliability.faults import (
    UNHANDLED,
    Demo,
    LogWatch,
    assert_audit_verifies,
    assert_exactly_once,
    count,
    wait_mid_flight,
    wait_restarted,
)

pytestmark = pytest.mark.e2e

#: Reads that need the database (the caller's directory entry, the policy's facts, the ledger).
PROBES = ("/api/v1/tasks", "/fhir/r4/Patient?_count=5", "/api/v1/journeys/journey-none")


def _client(stack) -> httpx.Client:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {stack.token(user='attending-1')}"}
    return httpx.Client(base_url=stack.api_url, verify=ssl.create_default_context(cafile=str(stack.ca_cert)),
                        timeout=30, headers=headers)


def _probe(c: httpx.Client) -> list[httpx.Response]:
    return [c.get(path) for path in PROBES]


def _probe_until_recovered(c: httpx.Client, healthy: list[int], started: float) -> list[httpx.Response]:
    """Call the probes until the database is back (each answers as it did before) or a minute passed."""
    answers: list[httpx.Response] = []
    while time.monotonic() - started < 60:
        round_ = _probe(c)
        answers += round_
        if any(r.status_code == 503 for r in answers) and [r.status_code for r in round_] == healthy:
            break
        time.sleep(0.05)
    return answers


def test_postgres_outage_mid_demo_answers_503_and_loses_nothing(stack, workers: Workers, db: sa.Engine,  # noqa: ANN001
                                                                tmp_path: Path) -> None:
    workers.ensure(2)
    client = _client(stack)  # its token is issued before the outage
    healthy = [r.status_code for r in _probe(client)]
    assert healthy == [200, 200, 404]
    api_log = LogWatch(stack.settings.log_dir / "api.log")
    before = count(db, "SELECT count(*) FROM hms.encounters")
    demo = Demo(stack, tmp_path / "demo.json").start()
    wait_mid_flight(db, demo, before)

    postgres = service(stack, "postgres")
    started = time.monotonic()
    os.kill(postgres["pid"], signal.SIGINT)  # fast shutdown: every connection is cut
    try:
        answers = _probe_until_recovered(client, healthy, started)
    finally:
        client.close()
    wait_restarted(stack, "postgres", postgres["restarts"])

    statuses = {r.status_code for r in answers}
    assert 503 in statuses, f"no request saw the outage: {statuses}"
    assert statuses <= {*healthy, 503}, f"unexpected answers during the outage: {statuses}"
    for r in answers:
        if r.status_code == 503:
            assert r.headers["content-type"].startswith("application/json") and r.json()["detail"]
            if "database" in r.json()["detail"]:
                assert r.headers.get("retry-after"), "a database outage's 503 says when to retry"
    assert [r.status_code for r in answers[-len(PROBES):]] == healthy, "the API did not recover"

    demo.finish()
    assert count(db, "SELECT count(*) FROM hms.encounters") == before + 6
    assert_exactly_once(db)
    assert_audit_verifies(stack)
    assert UNHANDLED not in api_log.new_text(), "a request ended in an unhandled exception (500)"

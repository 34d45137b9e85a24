"""A rolling update of the workers in the middle of a demo, to a build that changes ``PatientJourney``.

A worker of the new build (``rolling_worker``: the journey's change is behind
``workflow.patched``) joins while journeys run; the old workers are then stopped gracefully
(SIGTERM) and the new build carries every journey on from its history. No journey fails, and
journeys begun under the old build end through the new code path (the patch marker is in their
histories): updates pushed without disrupting patient care.
"""
from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.api.enums.v1 import EventType

from deploy import wiring
from deploy.settings import Settings
from tests.reliability.conftest import Workers
from tests.reliability.faults import Demo, assert_exactly_once, count, wait_mid_flight
from tests.reliability.rolling_build import ROLLING_PATCH

pytestmark = pytest.mark.e2e


async def _journey_starts_with_patch(settings: Settings, journey_ids: list[str]) -> dict[str, datetime]:
    """When each journey whose history records the rolling patch's marker was started."""
    client = await wiring.connect_temporal(settings)
    patched: dict[str, datetime] = {}
    for journey_id in journey_ids:
        history = await client.get_workflow_handle(journey_id).fetch_history()
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
                continue
            for payloads in event.marker_recorded_event_attributes.details.values():
                values = await client.data_converter.decode(payloads.payloads)
                if ROLLING_PATCH in json.dumps(values, default=str):
                    patched[journey_id] = history.events[0].event_time.ToDatetime(UTC)
    return patched


def test_rolling_update_mid_demo_fails_no_journey(stack, workers: Workers, db: sa.Engine,  # noqa: ANN001
                                                  tmp_path: Path) -> None:
    workers.ensure(2)
    old = workers.running()
    before = count(db, "SELECT count(*) FROM hms.encounters")
    demo = Demo(stack, tmp_path / "demo.json").start()
    wait_mid_flight(db, demo, before)

    rolled_out = datetime.now(UTC)
    new = workers.start("-m", "tests.reliability.rolling_worker")
    workers.kill(old, signal.SIGTERM)
    assert [p.returncode for p in old] == [0] * len(old), "an old worker did not stop gracefully"
    assert new.poll() is None

    report = demo.finish()
    patched = asyncio.run(_journey_starts_with_patch(stack.settings, [j["id"] for j in report["journeys"]]))
    assert any(started < rolled_out for started in patched.values()), (
        f"no journey begun under the old build ended under the new one (patched: {sorted(patched)})")
    assert_exactly_once(db)

    workers.kill([new], signal.SIGTERM)  # back to the stock build for the other scenarios
    workers.ensure(2)

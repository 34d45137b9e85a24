"""The hub's fan-out and backpressure, without a database."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from unittest.mock import MagicMock

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from api.streams.hub import EventHub, StreamEvent, Subscription, conninfo_of


def event(i: int, patient: str = "p1", ward: str | None = "medical", kind: str = "vitals") -> StreamEvent:
    return StreamEvent(i, patient, ward, kind, f"ref-{i}", datetime(2026, 11, 25, tzinfo=UTC))


def test_subscription_needs_exactly_one_target() -> None:
    with pytest.raises(ValueError):
        Subscription()
    with pytest.raises(ValueError):
        Subscription(patient_id="p1", ward="medical")


def test_patient_and_ward_subscriptions_match_their_own_events() -> None:
    by_patient, by_ward = Subscription(patient_id="p1"), Subscription(ward="icu")
    assert by_patient.matches(event(1)) and not by_patient.matches(event(2, patient="p2"))
    assert by_ward.matches(event(3, ward="icu")) and not by_ward.matches(event(4)) and not by_ward.matches(
        event(5, ward=None))


async def test_publish_fans_out_to_matching_subscriptions_in_order() -> None:
    hub = EventHub(sessionmaker(), None)
    a, b, c = Subscription(patient_id="p1"), Subscription(ward="medical"), Subscription(patient_id="p2")
    for sub in (a, b, c):
        hub.subscribe(sub)
    hub.publish([event(1), event(2, patient="p2", ward="icu"), event(3)])
    assert [a.queue.get_nowait().id for _ in range(a.queue.qsize())] == [1, 3]
    assert [b.queue.get_nowait().id for _ in range(b.queue.qsize())] == [1, 3]
    assert [c.queue.get_nowait().id for _ in range(c.queue.qsize())] == [2]
    hub.unsubscribe(a)
    hub.publish([event(4)])
    assert a.queue.empty() and b.queue.qsize() == 1


async def test_a_full_queue_marks_the_slow_subscriber_and_never_blocks_the_others() -> None:
    hub = EventHub(sessionmaker(), None)
    slow, fast = Subscription(patient_id="p1", maxsize=2), Subscription(patient_id="p1", maxsize=100)
    hub.subscribe(slow)
    hub.subscribe(fast)
    hub.publish([event(i) for i in range(1, 11)])  # returns at once although ``slow`` reads nothing
    assert slow.overflowed.is_set() and slow.queue.qsize() == 2
    assert not fast.overflowed.is_set() and fast.queue.qsize() == 10


async def test_a_hub_without_a_database_url_does_not_start() -> None:
    hub = EventHub(sessionmaker(), None)
    await hub.start()
    assert not hub.running and not hub.listening.is_set()
    await hub.stop()


def test_conninfo_of_turns_the_engine_url_into_a_libpq_url() -> None:
    engine = sa.create_engine("postgresql+psycopg://u:p%40ss@db.example:5433/hms?sslmode=verify-full")
    info = conninfo_of(sessionmaker(engine))
    assert info == "postgresql://u:p%40ss@db.example:5433/hms?sslmode=verify-full"
    socket = sa.create_engine("postgresql+psycopg://postgres:@/postgres?host=/tmp/pg")
    assert conninfo_of(sessionmaker(socket)) == "postgresql://postgres:@/postgres?host=%2Ftmp%2Fpg"
    assert conninfo_of(sessionmaker(sa.create_engine("sqlite://"))) is None
    assert conninfo_of(sessionmaker()) is None
    assert conninfo_of(MagicMock()) is None  # a fake store: the streams stay off


async def test_stop_cancels_a_running_listener() -> None:
    hub = EventHub(sessionmaker(), "postgresql://nobody@127.0.0.1:1/none", retry_seconds=0.01)
    await hub.start()
    await asyncio.sleep(0.05)  # the listener keeps retrying an unreachable server
    assert hub.running and not hub.listening.is_set()
    await hub.stop()
    assert not hub.running

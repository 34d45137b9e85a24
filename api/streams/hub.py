"""One LISTEN connection per API process, fanning events out to the subscribed sockets.

The database notifies ``hms_events`` with an event id when the transaction that wrote
the event commits. The hub collects the ids, reads their rows in one query (the
payload carries no data, so a notification can never leak or be trusted), puts them in
id order (``ordering``) and offers each to the matching subscriptions. Offering never
waits: a subscription whose queue is full is marked overflowed and its socket closes
it, so one slow client never holds up the others or the hub.

If the connection drops, the hub reconnects and replays everything after the last id it
published, so events committed while it was deaf still reach live subscribers.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from activities.storage import events_repo
from activities.storage.models_events import CHANNEL
from api.streams.model import QUEUE_SIZE, StreamEvent, Subscription
from api.streams.ordering import HOLD_MAX_SECONDS, HOLD_POLL_SECONDS, Sequencer

__all__ = ["QUEUE_SIZE", "EventHub", "StreamEvent", "Subscription", "conninfo_of"]

log = logging.getLogger("hms.streams")


def conninfo_of(sessions: sessionmaker[Session]) -> str | None:
    """A libpq connection string for the engine behind the session factory (None if there is none)."""
    engine = getattr(sessions, "kw", {}).get("bind")
    if not isinstance(engine, sa.Engine) or not engine.url.drivername.startswith("postgresql"):
        return None
    url = engine.url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


#: How long stream events are kept (how far back a client can resume), and how often old ones are purged.
RETENTION = timedelta(days=3)
PURGE_EVERY_SECONDS = 3600.0


class EventHub:
    """The process's listener and its subscriptions."""

    def __init__(self, sessions: sessionmaker[Session], conninfo: str | None, *, retry_seconds: float = 1.0,
                 retention: timedelta = RETENTION, purge_every_seconds: float = PURGE_EVERY_SECONDS) -> None:
        self._sessions, self._conninfo, self._retry = sessions, conninfo, retry_seconds
        self._retention, self._purge_every = retention, purge_every_seconds
        self._subs: set[Subscription] = set()
        self._ids: asyncio.Queue[int] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._seq: Sequencer | None = None
        self._hold: tuple[tuple[int, int], list[str], float] | None = None
        #: Set while LISTEN is active (tests and health checks wait on it).
        self.listening = asyncio.Event()

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    @property
    def stable_id(self) -> int | None:
        """Every event up to this id has been published (or never existed); None before the first LISTEN."""
        return self._seq.stable if self._seq is not None else None

    def subscribe(self, sub: Subscription) -> Subscription:
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, events: list[StreamEvent]) -> None:
        """Offer events (in the order given) to every matching subscription."""
        for event in events:
            for sub in list(self._subs):
                if sub.matches(event):
                    sub.offer(event)

    async def start(self) -> None:
        if self.running or self._conninfo is None:
            return
        self._tasks = [asyncio.create_task(self._listen(), name="hms-events-listen"),
                       asyncio.create_task(self._dispatch(), name="hms-events-dispatch"),
                       asyncio.create_task(self._purge_old(), name="hms-events-retention")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self.listening.clear()

    async def _purge_old(self) -> None:
        """Retention: events older than ``retention`` are deleted, once at start and then periodically.

        Events are pointers (ids, no clinical content); purging them only bounds how far back a
        reconnecting client can resume. Every API process may purge: the DELETE is idempotent.
        """
        while True:
            try:
                gone = await run_in_threadpool(self._purge_once)
                if gone:
                    log.info("purged %d stream events older than %s", gone, self._retention)
            except Exception as exc:  # the database is briefly away: try again next time
                log.warning("stream event retention could not run (%s)", type(exc).__name__)
            await asyncio.sleep(self._purge_every)

    def _purge_once(self) -> int:
        with self._sessions() as s, s.begin():
            return events_repo.purge(s, older_than=self._retention)

    async def _listen(self) -> None:
        assert self._conninfo is not None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await self._replay_missed()
                    self.listening.set()
                    log.info("listening for stream events")
                    async for note in conn.notifies():
                        with contextlib.suppress(ValueError):
                            self._ids.put_nowait(int(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: keep trying, replay what was missed
                log.warning("stream listener lost its connection (%s); retrying", type(exc).__name__)
            self.listening.clear()
            await asyncio.sleep(self._retry)

    async def _replay_missed(self) -> None:
        """After (re)connecting: publish what committed while nobody listened; at first start, just the cursor."""
        if self._seq is None:
            self._seq = Sequencer(await run_in_threadpool(self._read, events_repo.latest_id))
            return
        while True:
            missed = await run_in_threadpool(self._read, lambda s, after=self._seq.stable: [
                StreamEvent.from_row(r) for r in events_repo.after(s, after)])
            self.publish(self._seq.add(missed))
            if len(missed) < events_repo.MAX_BATCH:
                return

    async def _dispatch(self) -> None:
        while True:
            ids = await self._next_ids(wait=self._seq is None or not self._seq.pending)
            if self._seq is None:
                continue
            try:
                if ids:
                    rows = await run_in_threadpool(self._read, lambda s, wanted=ids: [
                        StreamEvent.from_row(r) for r in events_repo.by_ids(s, wanted)])
                    self.publish(self._seq.add(rows))
                await self._settle_gap()
            except Exception as exc:  # the database is briefly away: keep the ids and try again
                log.warning("could not read stream events (%s); retrying", type(exc).__name__)
                for event_id in ids:
                    self._ids.put_nowait(event_id)
                await asyncio.sleep(self._retry)

    async def _next_ids(self, *, wait: bool) -> list[int]:
        """The notified ids so far: waits for one when nothing is held, else looks again shortly."""
        try:
            first = await (self._ids.get() if wait else asyncio.wait_for(self._ids.get(), HOLD_POLL_SECONDS))
        except TimeoutError:
            return []
        ids = [first]
        while not self._ids.empty() and len(ids) < events_repo.MAX_BATCH:
            ids.append(self._ids.get_nowait())
        return ids

    async def _settle_gap(self) -> None:
        """Publish past a gap in the ids once the transactions that could fill it have ended."""
        assert self._seq is not None
        gap = self._seq.gap()
        if gap is None:
            self._hold = None
            return
        if self._hold is None or self._hold[0] != gap:  # a new gap: who could still fill it, from now on
            self._hold = (gap, await run_in_threadpool(self._read, events_repo.writers_in_flight), time.monotonic())
        _, writers, since = self._hold
        if time.monotonic() - since < HOLD_MAX_SECONDS:
            if await run_in_threadpool(self._read, lambda s: events_repo.still_in_flight(s, writers)):
                return
        else:
            log.warning("stream events %s..%s still uncommitted after %.1fs; publishing past them", *gap,
                        HOLD_MAX_SECONDS)
        filled = await run_in_threadpool(self._read, lambda s: [
            StreamEvent.from_row(r) for r in events_repo.between(s, *gap)])
        self._hold = None
        self.publish(self._seq.resolve(filled))
        await self._settle_gap()  # the next gap (if any) gets its own set of writers

    def _read(self, fn: Callable[[Session], Any]) -> Any:
        with self._sessions() as s:
            return fn(s)

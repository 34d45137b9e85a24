"""Group commit without a database: batching, order, and who gets which failure."""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from ledger import merkle
from ledger.base import LedgerConflict, LedgerUnavailable
from ledger.group_commit import GroupCommitter
from ledger.model import AuditEvent, LedgerEntry


def _event(n: int, reason: str = "ok") -> AuditEvent:
    return AuditEvent(event_id=f"e{n}", recorded=datetime(2026, 1, 1, tzinfo=UTC), actor="a", role="nurse",
                      action="R", subtype="patient.read", outcome="0", resource_type="Patient",
                      resource_id=None, patient_id=None, purpose=None, decision="allow", reason=reason)


class Store:
    """An in-memory log whose first commit blocks until ``hold`` callers are queued behind it."""

    def __init__(self, committer_ref: list[GroupCommitter], hold: int = 0) -> None:
        self.log: list[AuditEvent] = []
        self.calls: list[int] = []
        self.fail: BaseException | None = None
        self._ref, self._hold = committer_ref, hold
        self.entered = threading.Event()

    def commit(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        if self._hold and not self.entered.is_set():
            self.entered.set()
            deadline = time.monotonic() + 30  # a guard against a hang, not a timing assertion
            while len(self._ref[0]._queue) < self._hold and time.monotonic() < deadline:
                time.sleep(0.001)
        self.calls.append(len(events))
        if self.fail is not None:
            raise self.fail
        if any(e.reason == "clash" for e in events):
            raise LedgerConflict("event id reused")
        out = []
        for e in events:
            out.append(LedgerEntry(len(self.log), e, merkle.leaf_hash(e.canonical_bytes())))
            self.log.append(e)
        return out


def _committer(hold: int) -> tuple[GroupCommitter, Store]:
    ref: list[GroupCommitter] = []
    store = Store(ref, hold)
    committer = GroupCommitter(store.commit)
    ref.append(committer)
    return committer, store


def _concurrently(committer: GroupCommitter, store: Store, batches: list[list[AuditEvent]]) -> list[object]:
    """The first caller leads and is held inside its commit until all the others have queued."""
    results: list[object] = [None] * len(batches)

    def run(i: int) -> None:
        try:
            results[i] = committer.submit(batches[i])
        except Exception as exc:  # noqa: BLE001 - inspected by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    threads[0].start()
    assert store.entered.wait(30)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    return results


def test_waiting_callers_share_one_transaction_in_order() -> None:
    committer, store = _committer(hold=9)
    batches = [[_event(i)] for i in range(10)]
    results = _concurrently(committer, store, batches)
    assert store.calls == [1, 9]  # the leader alone, then everyone who queued meanwhile
    assert committer.batches == 2
    for batch, result in zip(batches, results, strict=True):
        assert isinstance(result, list) and [e.event for e in result] == batch
    assert sorted(r[0].index for r in results) == list(range(10))  # type: ignore[index]


def test_a_conflicting_caller_fails_alone() -> None:
    committer, store = _committer(hold=4)
    batches = [[_event(0)], [_event(1)], [_event(2, "clash")], [_event(3), _event(4)], [_event(5)]]
    results = _concurrently(committer, store, batches)
    assert isinstance(results[2], LedgerConflict)
    assert all(isinstance(r, list) for i, r in enumerate(results) if i != 2)
    assert [e.event_id for e in store.log] == ["e0", "e1", "e3", "e4", "e5"]
    multi = results[3]
    assert isinstance(multi, list) and multi[1].index == multi[0].index + 1  # a caller's events stay together


def test_an_unavailable_store_fails_every_caller_of_the_batch() -> None:
    committer, store = _committer(hold=3)
    store.fail = LedgerUnavailable("down")
    results = _concurrently(committer, store, [[_event(i)] for i in range(4)])
    assert all(isinstance(r, LedgerUnavailable) for r in results)
    store.fail = None
    assert committer.submit([_event(9)])[0].index == 0  # leadership was released; the next caller commits


def test_sequential_callers_commit_one_by_one() -> None:
    committer, store = _committer(hold=0)
    entries = [committer.submit([_event(i)])[0] for i in range(3)]
    assert [e.index for e in entries] == [0, 1, 2] and store.calls == [1, 1, 1]
    with pytest.raises(LedgerConflict):
        committer.submit([_event(7, "clash")])
    assert committer.submit([_event(8)])[0].index == 3


class _Interrupted(Exception):
    """What a worker raises inside a cancelled activity's thread."""


def _raise_in(thread: threading.Thread, exc: type[BaseException]) -> None:
    import ctypes

    assert thread.ident is not None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc))


def test_a_caller_interrupted_while_waiting_never_stalls_the_log() -> None:
    committer, store = _committer(hold=0)
    entered, release = threading.Event(), threading.Event()
    plain_commit = store.commit

    def held_commit(events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        if not entered.is_set():  # the first holder stays inside its commit until released
            entered.set()
            assert release.wait(30)
        return plain_commit(events)

    committer._commit = held_commit
    outcome: dict[str, object] = {}

    def waiter() -> None:
        try:
            committer.submit([_event(1)])
        except _Interrupted as exc:
            outcome["waiter"] = exc

    first = threading.Thread(target=lambda: outcome.setdefault("leader", committer.submit([_event(0)])))
    first.start()
    assert entered.wait(30)
    second = threading.Thread(target=waiter)
    second.start()
    deadline = time.monotonic() + 30  # a guard against a hang, not a timing assertion
    while not committer._queue and time.monotonic() < deadline:
        time.sleep(0.001)
    _raise_in(second, _Interrupted)  # delivered as soon as it runs again, i.e. when it is woken
    release.set()
    first.join(30)
    second.join(30)
    assert isinstance(outcome.get("waiter"), _Interrupted)
    # A later caller is not stuck behind the one that went away, and nothing is lost or reordered:
    # the interrupted caller's event is committed by the next holder or not at all, never twice.
    later = committer.submit([_event(2)])
    assert later[0].event.event_id == "e2"
    assert [e.event_id for e in store.log] in (["e0", "e1", "e2"], ["e0", "e2"])

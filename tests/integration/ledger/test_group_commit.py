"""Group commit on PostgreSQL: waiting appends share a transaction, stay gap-free, and keep idempotency."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from ledger.base import LedgerConflict
from ledger.embedded import EmbeddedLedger

pytestmark = pytest.mark.integration


def _hold_first_commit(ledger: EmbeddedLedger, queued: int) -> threading.Event:
    """Make the first leader wait inside its commit until ``queued`` callers wait behind it."""
    committer = ledger._committer
    assert committer is not None
    inner, entered = committer._commit, threading.Event()

    def commit(events):  # noqa: ANN001, ANN202
        if not entered.is_set():
            entered.set()
            deadline = time.monotonic() + 30  # a guard against a hang, not a timing assertion
            while len(committer._queue) < queued and time.monotonic() < deadline:
                time.sleep(0.001)
        return inner(events)

    committer._commit = commit
    return entered


def _run(calls: list, entered: threading.Event) -> list[object]:
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - inspected by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    threads[0].start()
    assert entered.wait(30)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    return results


def test_waiting_appends_commit_in_one_transaction(embedded_ledger: EmbeddedLedger, make_event,
                                                   ledger_engine: sa.Engine) -> None:
    entered = _hold_first_commit(embedded_ledger, queued=15)
    events = [make_event(n) for n in range(16)]
    results = _run([lambda e=e: embedded_ledger.append(e) for e in events], entered)
    assert embedded_ledger.committed_batches == 2
    assert sorted(r.index for r in results) == list(range(16))  # type: ignore[union-attr]
    for event, entry in zip(events, results, strict=True):
        assert embedded_ledger.get(entry.index).event == event  # type: ignore[union-attr]
    embedded_ledger.signed_head()
    assert embedded_ledger.verify().ok


def test_idempotency_and_conflicts_inside_one_batch(embedded_ledger: EmbeddedLedger, make_event) -> None:
    first = embedded_ledger.append(make_event(0))
    entered = _hold_first_commit(embedded_ledger, queued=4)
    twin = make_event(1)
    clash = make_event(2, event_id=first.event.event_id, reason="another reason")
    calls = [lambda: embedded_ledger.append(make_event(3)), lambda: embedded_ledger.append(twin),
             lambda: embedded_ledger.append(twin), lambda: embedded_ledger.append(clash),
             lambda: embedded_ledger.append(first.event)]
    results = _run(calls, entered)
    assert isinstance(results[3], LedgerConflict)
    assert results[1] == results[2]  # the same event twice in one batch is one entry
    assert results[4] == first
    assert embedded_ledger.size() == 3
    embedded_ledger.signed_head()
    assert embedded_ledger.verify().ok


def test_publisher_started_by_the_first_append_signs_a_last_head_on_close(
    ledger_engine: sa.Engine, signing_key, make_event
) -> None:
    from ledger.keys import key_id_for

    ledger = EmbeddedLedger(ledger_engine, signing_key, key_id_for(signing_key.public_key()), publish_interval=3600)
    ledger.append_many([make_event(n) for n in range(5)])
    ledger.close()
    with ledger_engine.connect() as conn:
        sizes = conn.execute(sa.text("SELECT tree_size FROM audit.tree_heads")).scalars().all()
    assert 5 in sizes

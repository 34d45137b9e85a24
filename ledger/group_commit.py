"""Group commit: concurrent appenders share one transaction, so the log's cost is per batch, not per event.

Combining, no background thread: every caller queues its request, then takes the commit lock; whoever
holds it commits every request queued so far (up to ``max_batch`` events) in one transaction, so a
caller that gets the lock often finds its own request already committed by the previous holder and
returns at once. Each caller returns only once *its* events are committed (or raises what stopped
them), so a caller that gets an entry back knows it is durable and the API can still fail closed.
Order is arrival order, and the indices the store assigns are gap-free.

No caller ever holds a duty it could drop: a thread interrupted while it waits (an activity cancelled
by its worker raises inside the thread) leaves its request queued for the next holder and the lock
free, so the log can never stall behind a caller that went away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger.base import LedgerConflict
from ledger.model import AuditEvent, LedgerEntry

#: Commits the events of several callers in one transaction, returning their entries in order.
Commit = Callable[[Sequence[AuditEvent]], list[LedgerEntry]]


@dataclass
class _Request:
    events: Sequence[AuditEvent]
    done: bool = False
    result: list[LedgerEntry] | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Batches concurrent :meth:`submit` calls into transactions of at most ``max_batch`` events."""

    def __init__(self, commit: Commit, *, max_batch: int = 2000) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._lock = threading.Lock()  # guards the queue
        self._commit_lock = threading.Lock()  # one committing holder at a time
        self._queue: list[_Request] = []
        self.batches = 0  # committed transactions, for benchmarks and tests

    def submit(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        """Commit ``events`` (consecutively, atomically) in the next batch and return their entries."""
        request = _Request(events)
        with self._lock:
            self._queue.append(request)
        while not request.done:
            with self._commit_lock:
                if not request.done:  # nobody committed it while we waited: commit what is queued
                    self._lead()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _take(self) -> list[_Request]:
        with self._lock:
            batch, total = [], 0
            for request in self._queue:
                if batch and total + len(request.events) > self._max_batch:
                    break
                batch.append(request)
                total += len(request.events)
            del self._queue[: len(batch)]
            return batch

    def _lead(self) -> None:
        batch = self._take()
        try:
            self._run(batch)
        finally:
            for request in batch:
                if request.result is None and request.error is None:
                    request.error = RuntimeError("group commit ended without an answer")
                request.done = True

    def _run(self, batch: list[_Request]) -> None:
        events = [e for request in batch for e in request.events]
        try:
            entries = self._commit(events)
        except LedgerConflict:
            # One caller reused an event id: commit the others alone so only that caller fails.
            for request in batch:
                self._run_alone(request)
            return
        except BaseException as exc:  # noqa: BLE001 - every waiting caller must see the failure
            for request in batch:
                request.error = exc
            return
        self.batches += 1
        start = 0
        for request in batch:
            request.result = entries[start : start + len(request.events)]
            start += len(request.events)

    def _run_alone(self, request: _Request) -> None:
        try:
            request.result = self._commit(request.events)
            self.batches += 1
        except BaseException as exc:  # noqa: BLE001 - handed to that caller
            request.error = exc

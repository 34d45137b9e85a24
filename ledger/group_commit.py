"""Group commit: concurrent appenders share one transaction, so the log's cost is per batch, not per event.

Leader/follower, no background thread: every caller queues its request; if nobody is committing it
becomes the committer and commits every request queued so far (up to ``max_batch`` events) in one
transaction, again and again until its own is done, while the others sleep on a condition and wake
when their request is done or the committer seat is free. Each caller returns only once *its*
events are committed (or raises what stopped them), so a caller that gets an entry back knows it is
durable and the API can still fail closed. Order is arrival order; indices are gap-free.

No caller ever holds a duty it could drop: a waiter interrupted while it sleeps (an activity
cancelled by its worker raises inside the thread) holds nothing, and a committer interrupted
anywhere frees the seat in ``finally`` and wakes the others, so the log never stalls.
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
        self._cond = threading.Condition()  # guards the queue and the committer seat
        self._queue: list[_Request] = []
        self._committing = False
        self.batches = 0  # committed transactions, for benchmarks and tests

    def submit(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        """Commit ``events`` (consecutively, atomically) in the next batch and return their entries."""
        request = _Request(events)
        lead = False
        try:
            with self._cond:
                self._queue.append(request)
                while not request.done:
                    if not self._committing:
                        lead = True  # set before the seat is taken, so ``finally`` always frees it
                        self._committing = True
                        break
                    self._cond.wait()
            while lead and not request.done:
                self._lead()
        finally:
            if lead:
                with self._cond:
                    self._committing = False
                    self._cond.notify_all()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _take(self) -> list[_Request]:
        with self._cond:
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
            with self._cond:
                for request in batch:
                    if request.result is None and request.error is None:
                        request.error = RuntimeError("group commit ended without an answer")
                    request.done = True
                self._cond.notify_all()

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

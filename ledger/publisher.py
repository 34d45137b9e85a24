"""Publishing signed tree heads at an interval.

A head is the ledger's signed commitment to its whole history at one size. Publishing one every few
seconds while the log grows bounds how much history an attacker with database rights could rewrite
before a commitment exists that verify() and client checkpoints hold it to. Publishing only when
the size changed keeps a quiet log from filling ``tree_heads`` with identical heads.
"""

from __future__ import annotations

import logging
import threading

from ledger.base import Ledger, LedgerError
from ledger.model import SignedTreeHead

log = logging.getLogger(__name__)


class HeadPublisher:
    """Signs (and so records) a head of ``ledger`` every ``interval`` seconds when its size changed."""

    def __init__(self, ledger: Ledger, interval: float = 10.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._ledger = ledger
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: SignedTreeHead | None = None

    def publish_once(self) -> SignedTreeHead | None:
        """Sign a head if the log grew since the last one this publisher signed; else None."""
        size = self._ledger.size()
        if self.last is not None and self.last.tree_size == size:
            return None
        head = self._ledger.signed_head(size)
        self.last = head
        return head

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.publish_once()
            except LedgerError as exc:  # the store is away; try again next interval
                log.warning("tree head not published: %s", type(exc).__name__)

    def start(self) -> HeadPublisher:
        """Run in a daemon thread (it must never keep a process alive); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ledger-head-publisher", daemon=True)
            self._thread.start()
        return self

    def stop(self, *, final: bool = True) -> None:
        """Stop the thread; with ``final`` sign one last head so the newest entries are committed to."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if final:
            try:
                self.publish_once()
            except LedgerError as exc:
                log.warning("final tree head not published: %s", type(exc).__name__)

    def __enter__(self) -> HeadPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Publishing events in id order, so "resume after id N" can never skip one.

Event ids come from a sequence when the row is inserted, but transactions commit in
their own order: id 11 can be visible before id 10. A client that saw 11 and resumed
"after 11" would never get 10. So the hub publishes strictly in id order: an event
waits while a lower id is missing, until the transactions that could still commit it
have ended (then the missing id either committed — and is published first — or never
will: a rolled-back transaction leaves a hole). The waiting is bounded (``HOLD_MAX_SECONDS``):
past it the hub moves on, and a straggler that commits later is still published, out
of order ("late"), to the sockets that are connected.
"""
from __future__ import annotations

from collections import deque

from api.streams.model import StreamEvent

#: The longest an event waits for a lower id to be resolved (delivery stays within a second).
HOLD_MAX_SECONDS = 0.8
#: How often a held gap is looked at again.
HOLD_POLL_SECONDS = 0.01
_RECENT = 50000


class Sequencer:
    """Pending events above ``stable`` (every id at or below it is published or never existed)."""

    def __init__(self, stable: int) -> None:
        self.stable = stable
        self.pending: dict[int, StreamEvent] = {}
        self._recent: set[int] = set()
        self._order: deque[int] = deque()

    def add(self, events: list[StreamEvent]) -> list[StreamEvent]:
        """Take fetched events; return those now publishable, in order (late stragglers first)."""
        out = []
        for event in sorted(events, key=lambda e: e.id):
            if event.id <= self.stable:
                if event.id not in self._recent:  # committed after its gap was given up on
                    out.append(self._remember(event))
            else:
                self.pending[event.id] = event
        return out + self._drain()

    def gap(self) -> tuple[int, int] | None:
        """The ids (low, high) missing below the first pending event, or None when nothing waits."""
        if not self.pending:
            return None
        return self.stable + 1, min(self.pending) - 1

    def resolve(self, filled: list[StreamEvent]) -> list[StreamEvent]:
        """The gap's writers have ended: ``filled`` is all it will ever hold; publish up to the next gap."""
        gap = self.gap()
        if gap is None:
            return []
        out = [self._remember(e) for e in sorted(filled, key=lambda e: e.id) if gap[0] <= e.id <= gap[1]]
        self.stable = gap[1]
        return out + self._drain()

    def _drain(self) -> list[StreamEvent]:
        out = []
        while self.stable + 1 in self.pending:
            self.stable += 1
            out.append(self._remember(self.pending.pop(self.stable)))
        return out

    def _remember(self, event: StreamEvent) -> StreamEvent:
        self._recent.add(event.id)
        self._order.append(event.id)
        if len(self._order) > _RECENT:
            self._recent.discard(self._order.popleft())
        return event

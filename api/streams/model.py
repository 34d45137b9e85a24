"""What flows through the hub: detached event rows and the subscriptions that want them."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from activities.storage.models_events import Event

#: Events a socket may have queued before it counts as too slow and is dropped.
QUEUE_SIZE = 256


@dataclass(frozen=True)
class StreamEvent:
    """An event row detached from its session (identifiers only)."""

    id: int
    patient_id: str
    ward: str | None
    kind: str
    ref: str
    occurred_at: datetime

    @classmethod
    def from_row(cls, row: Event) -> StreamEvent:
        return cls(row.id, row.patient_id, row.ward, row.kind, row.ref, row.occurred_at)


class Subscription:
    """What one socket listens to (a patient or a ward) and its bounded queue."""

    def __init__(self, *, patient_id: str | None = None, ward: str | None = None, maxsize: int = QUEUE_SIZE) -> None:
        if (patient_id is None) == (ward is None):
            raise ValueError("exactly one of patient_id or ward")
        self.patient_id, self.ward = patient_id, ward
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue(maxsize)
        self.overflowed = asyncio.Event()

    def matches(self, event: StreamEvent) -> bool:
        if self.patient_id is not None:
            return event.patient_id == self.patient_id
        return event.ward == self.ward

    def offer(self, event: StreamEvent) -> None:
        """Queue the event, or mark the subscription overflowed; never waits."""
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed.set()

"""Publishing in id order across out-of-order commits and rolled-back ids."""
from __future__ import annotations

from datetime import UTC, datetime

from api.streams.model import StreamEvent
from api.streams.ordering import Sequencer


def ev(i: int) -> StreamEvent:
    return StreamEvent(i, "p1", "medical", "task", f"t{i}", datetime(2026, 11, 25, tzinfo=UTC))


def ids(events: list[StreamEvent]) -> list[int]:
    return [e.id for e in events]


def test_contiguous_events_are_published_at_once_in_order() -> None:
    seq = Sequencer(10)
    assert ids(seq.add([ev(12), ev(11), ev(13)])) == [11, 12, 13]
    assert seq.stable == 13 and seq.gap() is None


def test_an_event_waits_for_a_lower_id_that_commits_later() -> None:
    seq = Sequencer(10)
    assert seq.add([ev(12)]) == [] and seq.gap() == (11, 11)
    assert ids(seq.add([ev(11)])) == [11, 12]
    assert seq.gap() is None


def test_a_resolved_gap_publishes_what_filled_it_and_skips_holes() -> None:
    seq = Sequencer(10)
    seq.add([ev(15), ev(16), ev(18)])
    assert seq.gap() == (11, 14)
    # the writers of 11..14 ended: 12 and 14 committed, 11 and 13 rolled back
    assert ids(seq.resolve([ev(14), ev(12)])) == [12, 14, 15, 16]
    assert seq.gap() == (17, 17) and seq.stable == 16
    assert ids(seq.resolve([])) == [18]
    assert seq.gap() is None


def test_a_straggler_after_its_gap_was_given_up_is_published_once() -> None:
    seq = Sequencer(10)
    seq.add([ev(12)])
    assert ids(seq.resolve([])) == [12]  # 11 did not show up in time
    assert ids(seq.add([ev(11)])) == [11]  # late, out of order, but not lost
    assert seq.add([ev(11), ev(12)]) == []  # and never twice

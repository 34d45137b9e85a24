"""MLLP framing: several messages per stream, garbage, oversized and truncated frames."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.hl7.framing import MAX_GARBAGE, Frame, FramingError, frame, read_frame


def reader_of(data: bytes, limit: int = 64) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def frames(reader: asyncio.StreamReader, max_frame: int = 1000) -> list[Frame]:
    out = []
    while (got := await read_frame(reader, max_frame)) is not None:
        out.append(got)
    return out


async def test_several_frames_with_noise_between() -> None:
    data = b"noise" + frame(b"one") + b"\r\n" + frame(b"two" * 100) + frame(b"")
    assert [f.payload for f in await frames(reader_of(data))] == [b"one", b"two" * 100, b""]


async def test_oversized_frame_is_flagged_and_the_next_one_still_read() -> None:
    got = await frames(reader_of(frame(b"x" * 5000) + frame(b"ok")), max_frame=1000)
    assert got == [Frame(b"", oversized=True), Frame(b"ok")]


async def test_unfinished_frame_at_eof_is_dropped() -> None:
    assert await frames(reader_of(frame(b"done") + b"\x0bhalf a mess")) == [Frame(b"done")]


async def test_a_restarted_frame_keeps_the_last_start() -> None:
    assert await frames(reader_of(b"\x0bstale\x0bfresh\x1c\r")) == [Frame(b"fresh")]


async def test_endless_garbage_is_not_mllp() -> None:
    with pytest.raises(FramingError):
        await frames(reader_of(b"G" * (MAX_GARBAGE + 10)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=50), st.sampled_from([b"\x0b", b"\x1c", b"\x0d", b"\x1c\x0d"])),
                max_size=30))
async def test_any_byte_stream_yields_clean_frames_or_a_clean_stop(chunks: list[bytes]) -> None:
    reader = reader_of(b"".join(chunks), limit=16)
    try:
        for got in await frames(reader, max_frame=64):
            assert b"\x0b" not in got.payload and not got.payload.endswith(b"\x1c\r")
            assert len(got.payload) <= 64 and (not got.oversized or got.payload == b"")
    except FramingError:
        pass

"""MLLP framing: ``0x0b`` message ``0x1c 0x0d``, several messages per connection.

Bytes outside a frame (line noise, a client speaking something else) are skipped up to a
limit; a frame larger than ``max_frame`` is refused as a whole (its bytes are discarded up
to its end marker) so one sender cannot make the listener hold unbounded memory.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
END = EB + CR
MAX_FRAME = 1 << 20
MAX_GARBAGE = 1 << 16


@dataclass(frozen=True)
class Frame:
    """A frame's payload, or ``oversized`` (payload dropped) when it exceeded the limit."""

    payload: bytes
    oversized: bool = False


class FramingError(Exception):
    """The peer is not speaking MLLP (too many bytes outside any frame): close the connection."""


def frame(payload: bytes) -> bytes:
    return SB + payload + END


async def read_frame(reader: asyncio.StreamReader, max_frame: int = MAX_FRAME) -> Frame | None:
    """The next frame, or None at a clean end of stream (EOF between frames or inside an unfinished one)."""
    skipped = 0
    while True:  # find the start block
        byte = await reader.read(1)
        if not byte:
            return None
        if byte == SB:
            break
        skipped += 1
        if skipped > MAX_GARBAGE:
            raise FramingError("no MLLP start block")
    chunks: list[bytes] = []
    size, oversized = 0, False
    while True:
        try:
            chunk = await reader.readuntil(END)
            last = True
        except asyncio.IncompleteReadError:
            return None  # the peer went away mid-frame: nothing to acknowledge
        except asyncio.LimitOverrunError as exc:
            chunk = await reader.readexactly(max(exc.consumed, 1))
            last = False
        size += len(chunk)
        if size > max_frame + len(END):
            oversized, chunks = True, []
        elif not oversized:
            chunks.append(chunk)
        if last:
            break
    if oversized:
        return Frame(b"", oversized=True)
    payload = b"".join(chunks)[: -len(END)]
    if SB in payload:  # a new start block inside a frame: the earlier one was never ended; keep the last
        payload = payload.rsplit(SB, 1)[1]
    return Frame(payload)

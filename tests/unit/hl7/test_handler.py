"""The handler and the listener with a fake hand-over: AA only after a durable hand-over."""
from __future__ import annotations

import asyncio
import socket

import pytest
from hl7.client import MLLPClient

from api.hl7.framing import frame
from api.hl7.handler import Hl7Handler, WardCache
from api.hl7.listener import MllpListener
from tests.unit.hl7.samples import ack_fields, adt, control_id, oru
from workflows.hl7_contracts import Hl7Message

KEY = bytes(32)


class FakeHandOver:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.got: list[Hl7Message] = []

    async def __call__(self, msg: Hl7Message) -> None:
        if self.fail:
            raise ConnectionError("temporal unreachable")
        self.got.append(msg)


async def test_aa_only_after_the_hand_over() -> None:
    sink = FakeHandOver()
    cid = control_id()
    ack = ack_fields((await Hl7Handler(KEY, sink).handle(adt("A01", cid=cid).encode())).decode())
    assert ack["MSA"][1:3] == ["AA", cid] and [m.control_id for m in sink.got] == [cid]


async def test_a_failed_hand_over_is_a_retryable_reject() -> None:
    cid = control_id()
    ack = ack_fields((await Hl7Handler(KEY, FakeHandOver(fail=True)).handle(adt(cid=cid).encode())).decode())
    assert ack["MSA"][1:3] == ["AR", cid] and ack["ERR"][3].startswith("207^")


async def test_unknown_ward_is_an_error_and_nothing_is_handed_over() -> None:
    sink = FakeHandOver()
    loads: list[int] = []

    def load() -> list[str]:
        loads.append(1)
        return ["medical"]

    handler = Hl7Handler(KEY, sink, WardCache(load, ttl=3600))
    ack = ack_fields((await handler.handle(adt(ward="moon").encode())).decode())
    assert ack["MSA"][1] == "AE" and ack["ERR"][2] == "PV1^1^3" and sink.got == []
    assert ack_fields((await handler.handle(adt(ward="medical").encode())).decode())["MSA"][1] == "AA"
    assert len(loads) == 1


async def test_listener_serves_several_messages_per_connection_and_survives_garbage() -> None:
    sink = FakeHandOver()
    listener = MllpListener(Hl7Handler(KEY, sink), max_frame=4096)
    port = await listener.start("127.0.0.1", 0)
    try:
        def talk() -> list[str]:
            with socket.create_connection(("127.0.0.1", port)) as raw:  # noise, an oversized frame, then hang up
                raw.sendall(b"hello\r\n" + frame(b"x" * 10_000))
                oversized = raw.recv(4096).decode()
            with MLLPClient("127.0.0.1", port) as c:
                return [oversized] + [c.send_message(m).decode() for m in (adt(), "junk", oru())]
        acks = await asyncio.to_thread(talk)
    finally:
        await listener.close()
    assert [ack_fields(a.strip("\x0b\x1c\r"))["MSA"][1] for a in acks] == ["AR", "AA", "AR", "AA"]
    assert len(sink.got) == 2


@pytest.mark.parametrize("version", ["2.3", "2.4", "2.5.1", "2.6"])
async def test_versions_accepted(version: str) -> None:
    ack = (await Hl7Handler(KEY, FakeHandOver()).handle(adt("A08", version=version).encode())).decode()
    assert ack_fields(ack)["MSA"][1] == "AA"

"""A small MLLP receiver for tests: a downstream system that ACKs what it takes, as a real one would.

It applies each control id once (a redelivery is ACKed again, not applied again), can be stopped and
started on the same port (a destination that is down for a while), and can drop the connection
without an ACK for chosen control ids (the sender's activity fails and is retried).
"""
from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


@dataclass
class Received:
    control_id: str
    kind: str
    segments: list[str]

    def field(self, segment: str, n: int) -> str:
        for seg in self.segments:
            if seg.startswith(segment + "|"):
                parts = seg.split("|")
                return parts[n] if len(parts) > n else ""
        return ""


@dataclass
class Receiver:
    port: int = 0
    #: Every delivery, redeliveries included.
    deliveries: list[Received] = field(default_factory=list)
    #: Each control id once, in the order first accepted.
    applied: list[Received] = field(default_factory=list)
    #: Control ids whose first delivery is dropped without an ACK.
    drop_first: set[str] = field(default_factory=set)
    _server: asyncio.Server | None = None

    @staticmethod
    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    @property
    def destination(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        if not self.port:
            self.port = self.free_port()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def kinds(self) -> list[str]:
        return [r.kind for r in self.applied]

    async def wait_for(self, kind: str, timeout: float = 60.0) -> Received:
        for _ in range(int(timeout * 10)):
            found = [r for r in self.applied if r.kind == kind]
            if found:
                return found[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {kind} arrived; got {self.kinds()}")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(SB)
                body = (await reader.readuntil(EB + CR))[:-2].decode()
                segments = [s for s in body.split("\r") if s]
                msh = segments[0].split("|")
                got = Received(control_id=msh[9], kind="^".join(msh[8].split("^")[:2]), segments=segments)
                self.deliveries.append(got)
                if got.control_id in self.drop_first:
                    self.drop_first.discard(got.control_id)
                    return  # no ACK: the sender must try again
                if got.control_id not in {r.control_id for r in self.applied}:
                    self.applied.append(got)
                ack = f"MSH|^~\\&|RCV|RCV|HMS|HMS|20261126000000||ACK|A{got.control_id[:15]}|P|2.5\rMSA|AA|{got.control_id}\r"
                writer.write(SB + ack.encode() + EB + CR)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

"""The asyncio MLLP listener (plain, and TLS 1.3 only) in front of ``Hl7Handler``.

Each connection is served sequentially (message, ACK, message, …) as MLLP expects; many
connections are served at once. Garbage between frames is skipped, an oversized frame gets
an AR, a peer that does not speak MLLP is disconnected; nothing here can stop the server.
"""
from __future__ import annotations

import asyncio
import logging
import ssl

from api.hl7 import errors as E
from api.hl7.ack import build_ack
from api.hl7.framing import MAX_FRAME, FramingError, frame, read_frame
from api.hl7.handler import Hl7Handler
from api.hl7.header import Header

log = logging.getLogger("hms.hl7")
IDLE_TIMEOUT = 600.0


class MllpListener:
    def __init__(self, handler: Hl7Handler, *, max_frame: int = MAX_FRAME, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self._handler = handler
        self._max_frame = max_frame
        self._idle = idle_timeout
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the bound port."""
        server = await asyncio.start_server(self._serve, host, port, ssl=ssl_context,
                                            limit=min(self._max_frame, 1 << 16))
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                try:
                    got = await asyncio.wait_for(read_frame(reader, self._max_frame), self._idle)
                except (FramingError, TimeoutError):
                    break
                if got is None:
                    break
                if got.oversized:
                    ack = build_ack(Header(), "AR", E.reject(
                        E.SEGMENT_SEQUENCE, f"the message exceeds {self._max_frame} bytes")).encode()
                else:
                    ack = await self._handler.handle(got.payload)
                writer.write(frame(ack))
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:  # noqa: BLE001 - one bad connection never stops the listener
            log.warning("mllp connection ended: %s", type(exc).__name__)
        finally:
            self._connections.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError, OSError):
                pass

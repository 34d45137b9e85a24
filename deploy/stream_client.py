"""A reusable client of the API's WebSocket streams (wss, verified against the local CA).

``async for event in stream(settings, "/ws/wards/medical", token): ...`` yields pushed
events (``{"id", "kind", "patient_id", "ward", "ref", "occurred_at", "data"}``) and
reconnects by itself after a dropped connection or a "too slow" close, resuming from
the last id it yielded, so a consumer sees every event once. Refusals (4400 bad
request, 4401 token, 4403 policy, 4404 unknown patient or ward) raise ``StreamRefused``.

``ready`` (an ``asyncio.Event``) is set once the server confirms the subscription, so a
caller can start the work it wants to watch only then. ``subscribe`` wraps that for the
common case — a benchmark or the demo waiting on pushed events instead of polling::

    async with subscribe(settings, f"/ws/wards/{ward}", token) as events:
        ...  # start the journey
        task = await events.next(lambda e: e["kind"] == "task" and e["data"]["status"] == "open", timeout=30)
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from deploy.settings import Settings

#: Close codes after which reconnecting cannot help.
FINAL_CODES = frozenset({4400, 4401, 4403, 4404})


class StreamRefused(RuntimeError):
    """The server refused the stream (code and reason as sent in its close frame)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"stream refused ({code}): {reason}")
        self.code, self.reason = code, reason


def stream_url(settings: Settings, path: str, last_event_id: int | None = None) -> str:
    base = settings.api_base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    query = f"?{urlencode({'last_event_id': last_event_id})}" if last_event_id is not None else ""
    return f"{base}{path}{query}"


def tls_context(settings: Settings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(settings.ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


async def stream(settings: Settings, path: str, token: str, last_event_id: int | None = None, *,
                 ready: asyncio.Event | None = None, reconnect: bool = True, retry_seconds: float = 0.5,
                 ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[dict[str, Any]]:
    """Yield the stream's events until the caller stops iterating (or the server refuses it)."""
    context = ssl_context if ssl_context is not None else (
        tls_context(settings) if settings.api_base_url.startswith("https") else None)
    last = last_event_id
    while True:
        try:
            async with connect(stream_url(settings, path, last), ssl=context, proxy=None,
                               additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("type") == "subscribed":
                        last = message.get("last_event_id", last)
                        if ready is not None:
                            ready.set()
                        continue
                    last = max(last or 0, int(message["id"]))
                    yield message
        except ConnectionClosed as exc:
            received = exc.rcvd
            if received is not None and received.code in FINAL_CODES:
                raise StreamRefused(received.code, received.reason) from None
            if not reconnect:
                raise
        except (OSError, InvalidHandshake, TimeoutError):
            if not reconnect:
                raise
        else:
            if not reconnect:  # the server ended the stream normally
                return
        await asyncio.sleep(retry_seconds)


class Events:
    """The events of a running subscription, for ``next`` to pick from (those passed over are dropped)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        #: Why the stream ended (a refusal, say), if it did.
        self.error: BaseException | None = None

    async def next(self, match: Callable[[dict[str, Any]], bool] | None = None, *,
                   timeout: float | None = None) -> dict[str, Any]:
        """The next event ``match`` accepts (any event without one); TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                item = await self.queue.get()
                if isinstance(item, BaseException):
                    raise item
                if match is None or match(item):
                    return item


@asynccontextmanager
async def subscribe(settings: Settings, path: str, token: str, last_event_id: int | None = None, *,
                    ready_timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None,
                    ) -> AsyncIterator[Events]:
    """Subscribe, wait until the server confirms it, then hand over the events as they come."""
    events, ready = Events(), asyncio.Event()

    async def pump() -> None:
        try:
            async for event in stream(settings, path, token, last_event_id, ready=ready, ssl_context=ssl_context):
                events.queue.put_nowait(event)
        except Exception as exc:  # a refusal reaches the caller at its next ``next``
            events.error = exc
            events.queue.put_nowait(exc)
            ready.set()

    task = asyncio.create_task(pump())
    try:
        await asyncio.wait_for(ready.wait(), ready_timeout)
        if events.error is not None:
            raise events.error
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

"""One socket's life: authenticate, decide the subscription, catch up, then push live events.

No gaps, no duplicates: the subscription is registered with the hub *before* the
catch-up, and the catch-up reads the table only up to the hub's settled id (everything
at or below it is published in id order); what comes after reaches the queue in id
order too. A client resumes with the last id it received (``?last_event_id=`` or in its
first message) and gets exactly the events after it; without one the stream starts at
the settled id, which the ``subscribed`` message names.

Messages: the caught-up events, one ``{"type": "subscribed", "stream", "last_event_id"}``,
then live events — each ``{"id", "kind", "patient_id", "ward", "ref", "occurred_at", "data"}``.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from fastapi import HTTPException, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from activities.storage import events_repo
from api.auth import AuthError, Principal
from api.services import ApiServices
from api.streams import config as cfg
from api.streams.access import EventGate, StreamTarget
from api.streams.hub import EventHub, StreamEvent, Subscription
from api.streams.payloads import load, message

log = logging.getLogger("hms.streams")

#: How long a socket waits for a just-started listener before relying on its catch-up alone.
LISTEN_WAIT_SECONDS = 5.0


class Refused(Exception):
    """Close the socket with this code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class StreamSession:
    def __init__(self, ws: WebSocket, hub: EventHub, target: StreamTarget, config: cfg.StreamConfig) -> None:
        self.ws, self.hub, self.target, self.config = ws, hub, target, config
        self.services: ApiServices = ws.app.state.services
        self.sent: set[int] = set()
        self.high = 0
        self.resume_after: int | None = None
        self.token = ""

    async def run(self) -> None:
        await self.ws.accept()
        try:
            principal, last_id = await self._authenticate()
            if not await run_in_threadpool(self.target.exists, self.services):
                raise Refused(cfg.CLOSE_NOT_FOUND, f"{self.target.label} not found")
            await self._decide(principal, "subscribe")
            await self._stream(principal, last_id)
        except Refused as refusal:
            await self._close(refusal.code, refusal.reason)
        except WebSocketDisconnect:
            return
        except Exception:  # never leave a socket hanging on a server fault
            log.exception("stream %s failed", self.target.label)
            await self._close(1011, "internal error; reconnect with last_event_id")

    async def _authenticate(self) -> tuple[Principal, int | None]:
        token, last_id = _bearer(self.ws.headers.get("authorization")), self.ws.query_params.get("last_event_id")
        token = token or self.ws.query_params.get("access_token")
        if not token:  # browsers cannot set headers: the token may come as the first message
            try:
                first = await asyncio.wait_for(self.ws.receive(), self.config.auth_timeout_seconds)
            except TimeoutError:
                raise Refused(cfg.CLOSE_UNAUTHENTICATED, "missing bearer token") from None
            if first["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(first.get("code", 1000))
            try:
                hello = json.loads(first.get("text") or first.get("bytes") or b"")
            except ValueError:
                hello = None
            if not isinstance(hello, dict):
                raise Refused(cfg.CLOSE_BAD_REQUEST, 'the first message must be {"access_token": ..., '
                                                     '"last_event_id"?: ...}')
            token = hello.get("access_token")
            last_id = hello.get("last_event_id", last_id)
            if not isinstance(token, str) or not token:
                raise Refused(cfg.CLOSE_UNAUTHENTICATED, "missing bearer token")
        self.token = token
        return self._verify(), _event_id(last_id)

    def _verify(self) -> Principal:
        """The token's principal; an expired (or otherwise invalid) token ends the stream with 4401."""
        try:
            return self.services.verifier.verify(self.token)
        except AuthError as exc:
            raise Refused(cfg.CLOSE_UNAUTHENTICATED, str(exc)) from None

    async def _decide(self, principal: Principal, step: str) -> None:
        try:
            await self.target.authorize(self.services, principal, step)
        except HTTPException as exc:
            code = cfg.CLOSE_FORBIDDEN if exc.status_code == 403 else cfg.CLOSE_UNAVAILABLE
            raise Refused(code, str(exc.detail)) from None

    async def _stream(self, principal: Principal, last_id: int | None) -> None:
        sub = self.hub.subscribe(Subscription(patient_id=self.target.patient_id, ward=self.target.ward,
                                              maxsize=self.config.queue_size))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.hub.listening.wait(), LISTEN_WAIT_SECONDS)
            # Everything up to ``bound`` is settled and read from the table; what comes after arrives
            # through the queue, in id order, from the moment of subscribing (no gap between the two).
            bound = self.hub.stable_id if self.hub.listening.is_set() else None
            if bound is None:
                bound = await run_in_threadpool(self._read, events_repo.latest_id)
            gate = EventGate(self.services, principal, self.config.recheck_seconds)
            self.resume_after = last_id
            if last_id is not None:
                await self._catch_up(gate, last_id, bound)
            await self._send({"type": "subscribed", "stream": self.ws.url.path,
                              "last_event_id": max(last_id or 0, bound, self.high)})
            pump = asyncio.create_task(self._pump(principal, sub, gate))
            receive = asyncio.create_task(self._drain())
            done, pending = await asyncio.wait({pump, receive}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for task in done:
                task.result()  # re-raise a refusal (or a disconnect) of the pump
        finally:
            self.hub.unsubscribe(sub)

    async def _catch_up(self, gate: EventGate, last_id: int, bound: int) -> None:
        cursor = last_id
        while True:
            rows = await run_in_threadpool(self._read, lambda s, after=cursor: [
                StreamEvent.from_row(r) for r in events_repo.since(s, after, patient_id=self.target.patient_id,
                                                                   ward=self.target.ward, upto=bound)])
            for event in rows:
                await self._push(gate, event)
            if len(rows) < events_repo.MAX_BATCH:
                return
            cursor = rows[-1].id

    async def _pump(self, principal: Principal, sub: Subscription, gate: EventGate) -> None:
        next_check = time.monotonic() + self.config.recheck_seconds
        while True:
            if sub.overflowed.is_set():
                raise Refused(cfg.CLOSE_TOO_SLOW, f"client too slow; resume with last_event_id={self.high}")
            if time.monotonic() >= next_check:  # an expired token, revoked membership or withdrawn consent ends it
                self._verify()
                await self._decide(principal, "recheck")
                gate.reset()
                next_check = time.monotonic() + self.config.recheck_seconds
            try:
                event = await asyncio.wait_for(sub.queue.get(), max(0.0, next_check - time.monotonic()))
            except TimeoutError:
                continue
            await self._push(gate, event)

    async def _push(self, gate: EventGate, event: StreamEvent) -> None:
        if event.id in self.sent or (self.resume_after is not None and event.id <= self.resume_after):
            return  # already sent on this socket, or the client said it has everything up to there
        self._mark(event.id)
        data, facts = await run_in_threadpool(load, self.services, event)
        try:
            allowed = await gate.allows(event, facts)
        except HTTPException as exc:
            raise Refused(cfg.CLOSE_UNAVAILABLE, str(exc.detail)) from None
        if allowed:
            await self._send(message(event, data))

    async def _send(self, payload: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(self.ws.send_text(json.dumps(payload)), self.config.send_timeout_seconds)
        except TimeoutError:
            raise Refused(cfg.CLOSE_TOO_SLOW, f"client too slow; resume with last_event_id={self.high}") from None

    async def _drain(self) -> None:
        """Read (and ignore) what the client sends, so a disconnect ends the session at once."""
        while (await self.ws.receive())["type"] != "websocket.disconnect":
            pass

    def _mark(self, event_id: int) -> None:
        self.sent.add(event_id)
        self.high = max(self.high, event_id)
        if len(self.sent) > 20000:  # ids far behind the newest cannot come again
            self.sent = {i for i in self.sent if i > self.high - 10000}

    def _read(self, fn: Any) -> Any:
        with self.services.sessions() as s:
            return fn(s)

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason.encode()[:123].decode(errors="ignore")), 2.0)


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def _event_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Refused(cfg.CLOSE_BAD_REQUEST, "last_event_id must be a non-negative integer") from None
    if number < 0 or isinstance(value, bool):
        raise Refused(cfg.CLOSE_BAD_REQUEST, "last_event_id must be a non-negative integer")
    return number

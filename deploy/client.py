"""A small HTTPS client of the task API for the demo and the benchmarks (verifies the local CA).

Every call names the demo user making it: each clinical role works with its own token,
so the policy and the ledger see the same people the hospital would.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from typing import Any

import httpx

from deploy.client_push import Wakeups, current_patient
from deploy.settings import Settings
from deploy.stream_client import tls_context  # noqa: F401 - one client TLS context, used from here too
from deploy.tokens import issue_token, issuer_key

DEMO_WARDS = ("medical", "surgical", "emergency", "icu", "psychiatry")
GIVEN = ("Asha", "Ravi", "Meera", "Arjun", "Lena", "Tomas", "Aiko", "Sofia", "Kwame", "Nadia")
FAMILY = ("Verma", "Iyer", "Okafor", "Novak", "Silva", "Tanaka", "Haddad", "Larsen", "Mensah", "Rossi")
#: Answers worth retrying: the API or an engine behind it is momentarily unavailable.
TRANSIENT = (502, 503, 504)
#: Seconds a call keeps retrying transient answers: long enough for the supervisor to restart an engine.
OUTAGE_PATIENCE = 60.0


class ApiError(RuntimeError):
    """A call answered with an unexpected status; the message carries the method, path, status and detail."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path} → {status}: {detail}")
        self.status = status
        self.detail = detail


class ApiClient:
    """Tokens per demo user, cached for most of their lifetime."""

    def __init__(self, settings: Settings, *, limit: int = 64, poll_interval: float = 0.1,
                 max_poll_interval: float = 0.5, push_fallback: float = 2.0) -> None:
        self._settings = settings
        self._key = issuer_key(settings)
        self._tokens: dict[tuple[str, str], tuple[float, str]] = {}
        self._http = httpx.AsyncClient(base_url=settings.api_base_url, verify=tls_context(settings), timeout=60,
                                       limits=httpx.Limits(max_connections=limit))
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        #: Pushed-event wake-ups (``use_push``); the longest wait between probes while they are on.
        self.wakeups: Wakeups | None = None
        self.push_fallback = push_fallback

    def headers(self, user: str, role: str) -> dict[str, str]:
        ttl = self._settings.token_ttl_seconds
        cached = self._tokens.get((user, role))
        if cached is None or time.monotonic() - cached[0] > ttl / 3:
            cached = (time.monotonic(), issue_token(self._settings, user, role, key=self._key))
            self._tokens[(user, role)] = cached
        return {"Authorization": f"Bearer {cached[1]}"}

    async def call(self, method: str, path: str, user: str, role: str, *, json: Any = None,
                   content: bytes | None = None, content_type: str | None = None, params: dict[str, Any] | None = None,
                   ok: tuple[int, ...] = (200, 201, 202), attempts: int = 5,
                   patience: float = OUTAGE_PATIENCE) -> Any:
        """One API call as ``user``; retried on a transient 5xx or a dropped connection, at least
        ``attempts`` times and for up to ``patience`` seconds, so an engine restart is waited out."""
        headers = self.headers(user, role)
        if content_type:
            headers["Content-Type"] = content_type
        delay = 0.2
        give_up = time.monotonic() + patience
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= attempts and time.monotonic() >= give_up
            try:
                r = await self._http.request(method, path, json=json, content=content, params=params,
                                             headers=headers)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if last:
                    raise ApiError(method, path, 0, f"{type(exc).__name__}") from exc
            else:
                if r.status_code in ok:
                    return r.json() if r.content else None
                if r.status_code not in TRANSIENT or last:
                    raise ApiError(method, path, r.status_code, _detail(r))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def admit(self, n: int, ward: str | None = None) -> dict[str, Any]:
        body = synthetic_admission(n, ward)
        r = await self._http.post("/api/v1/admissions", json=body, headers=self.headers("registration-1",
                                                                                      "registration_clerk"))
        r.raise_for_status()
        return r.json()

    async def journey(self, journey_id: str, user: str, role: str) -> dict[str, Any] | None:
        """The journey, or None while the caller cannot see it yet (care team not assigned)."""
        r = await self._http.get(f"/api/v1/journeys/{journey_id}", headers=self.headers(user, role))
        if r.status_code == 403:
            return None
        r.raise_for_status()
        return r.json()

    async def wait_stage(self, journey_id: str, attending: str, stages: tuple[str, ...], timeout: float = 120) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            j = await self.journey(journey_id, attending, "attending_physician")
            if j is not None and (j["stage"] in stages or j["status"] == "failed"):
                return j
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{journey_id} stayed at {j['stage'] if j else 'an unreadable stage'}")
            await asyncio.sleep(0.25)

    async def discharge(self, journey_id: str, attending: str) -> None:
        r = await self._http.post(f"/api/v1/journeys/{journey_id}/discharge", json={},
                                  headers=self.headers(attending, "attending_physician"))
        r.raise_for_status()

    # --- the task inbox -------------------------------------------------------------------------

    async def tasks(self, user: str, role: str, *, patient: str | None = None,
                    task_role: str | None = None) -> list[dict[str, Any]]:
        """Open tasks in ``user``'s inbox (optionally one patient's, or one role's)."""
        params = {k: v for k, v in (("patient", patient), ("role", task_role)) if v}
        return await self.call("GET", "/api/v1/tasks", user, role, params=params)

    async def wait_task(self, user: str, role: str, *, patient: str, task_type: str, timeout: float,
                        match: dict[str, Any] | None = None, task_role: str | None = None) -> dict[str, Any]:
        """Poll the inbox until an open task of ``task_type`` (whose details contain ``match``) appears."""
        async def find() -> dict[str, Any] | None:
            for t in await self.tasks(user, role, patient=patient, task_role=task_role):
                if t["type"] == task_type and all(t["details"].get(k) == v for k, v in (match or {}).items()):
                    return t
            return None

        wakeups = self.wakeups
        pushed = None if wakeups is None else (
            lambda: wakeups.pushed_task(patient, task_type, match, task_role or role))
        return await self.poll(find, timeout, f"no {task_type} task reached the {role} inbox", pushed=pushed,
                               probe_first=False)

    async def complete(self, task: dict[str, Any], user: str, role: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", f"/api/v1/tasks/{task['id']}/complete", user, role, json=payload)

    async def poll(self, probe: Any, timeout: float, what: str, *, pushed: Any = None,
                   probe_first: bool = True) -> Any:
        """Await ``probe()`` until it returns something other than None, backing off up to the max interval.

        With wake-ups (``use_push``) and a current patient (``client_push.current_patient``), the
        next probe comes when an event for that patient is pushed, or after a longer fallback.
        ``pushed()``: what the pushed events already show (None if not yet). With it, a wake-up is
        answered from the events alone and the API is asked only at the start and when the fallback
        interval passes without the awaited event (a task the stream's watcher may not see).
        ``probe_first=False`` skips the opening ask when events are followed (the awaited state cannot be
        there yet, e.g. right after the request that starts it).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        interval = self.poll_interval
        patient = current_patient.get() if self.wakeups is not None else None
        ceiling = self.push_fallback if patient else self.max_poll_interval
        if pushed is not None and patient:  # the events end the wait; the interval is only the fallback
            interval = max(interval, self.push_fallback / 4)
        woke = not probe_first
        while True:
            wake = self.wakeups.armed(patient) if patient and self.wakeups is not None else None
            from_events = pushed is not None and wake is not None
            found = pushed() if from_events else None
            if found is None and not (woke and from_events):
                found = await probe()
            if found is not None:
                return found
            if loop.time() > deadline:
                raise TimeoutError(f"{what} within {timeout:g} s")
            woke = False
            if wake is None:
                await asyncio.sleep(interval)
            else:
                try:
                    await asyncio.wait_for(wake.wait(), interval)
                    woke = True
                except TimeoutError:
                    pass
            interval = min(interval * 1.5, ceiling)

    async def poll_when(self, probe: Any, timeout: float, what: str, *, ready: Callable[[Wakeups], bool],
                        settle: float = 0.0) -> Any:
        """``poll(probe)``, started once the pushed events show ``ready`` (the awaited state can only follow it).

        Until then the API is asked only on the fallback interval; ``settle`` seconds pass between the
        event and the first ask. Without pushed events (or a current patient) this is plain polling.
        """
        wakeups = self.wakeups
        if wakeups is not None and current_patient.get():
            seen = object()
            found = await self.poll(probe, timeout, what, pushed=lambda: seen if ready(wakeups) else None,
                                    probe_first=False)
            if found is not seen:  # a fallback ask answered already
                return found
            await asyncio.sleep(settle)
        return await self.poll(probe, timeout, what)

    async def use_push(self, wards: Iterable[str]) -> None:
        """Follow these wards' event streams so waits wake on pushed events (see ``client_push``)."""
        if self.wakeups is None:
            self.wakeups = Wakeups(self._settings)
        for ward in wards:
            self.wakeups.watch(ward)

    async def aclose(self) -> None:
        if self.wakeups is not None:
            await self.wakeups.aclose()
        await self._http.aclose()


async def or_none(call: Awaitable[Any], statuses: tuple[int, ...] = (404,)) -> Any:
    """The call's answer, or None when it answers one of ``statuses`` (the thing is not there yet)."""
    try:
        return await call
    except ApiError as exc:
        if exc.status in statuses:
            return None
        raise


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    detail = body.get("detail") if isinstance(body, dict) else body
    return str(detail)[:300]


def synthetic_admission(n: int, ward: str | None = None) -> dict[str, Any]:
    """A made-up patient (never a real person) with a fresh identifier."""
    return {
        "patient": {"identifier": {"system": "urn:hms:demo", "value": f"DEMO-{uuid.uuid4().hex[:12]}"},
                    "given": GIVEN[n % len(GIVEN)], "family": FAMILY[(n // len(GIVEN)) % len(FAMILY)],
                    "birth_date": date(1940 + n % 60, 1 + n % 12, 1 + n % 28).isoformat(),
                    "gender": ("female", "male", "other")[n % 3]},
        "ward": ward or DEMO_WARDS[n % 3],
        "reason": "demo admission",
        "consent": True,
    }

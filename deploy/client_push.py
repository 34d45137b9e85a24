"""Pushed events as wake-ups for the demo and benchmark drivers, instead of blind polling.

A driver waiting for "the bed-cleaning task is in the nurse's inbox" used to ask the API every
0.1–0.5 s, each ask an authorised, audited request. With ``Wakeups`` the driver subscribes once
per ward to ``/ws/wards/{ward}`` (as the ward's nurse, or its attending where no nurse is seeded)
and asks again when an event for *its* patient arrives (a task opened or closed, vitals, a
result, the stay's status), with a slow fallback poll for what has no event. A task it waits for
is usually in the pushed event itself (the task's id, type, status and details, as the watcher may
see them), so the wait ends without asking the inbox at all (``pushed_task``).

Which patient a wait is about is carried in a context variable (``current_patient``), set by the
journey driver once the admission answered; the waits inside it inherit it.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import defaultdict

from deploy.seed import CARE_TEAMS, DEMO_USERS
from deploy.settings import Settings
from deploy.stream_client import stream
from deploy.tokens import issue_token

log = logging.getLogger(__name__)

#: The patient the current driver task is waiting about (None: wake-ups do not apply).
current_patient: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_patient", default=None)


def ward_watcher(ward: str) -> tuple[str, str] | None:
    """(user, role) who may watch the whole ward: its nurse, else the attending whose team covers it."""
    for u in DEMO_USERS:
        if u.role == "nurse" and ward in u.wards:
            return u.id, u.role
    for _name, wards, members in CARE_TEAMS.values():
        if ward in wards:
            for member in members:
                if any(u.id == member and u.role == "attending_physician" for u in DEMO_USERS):
                    return member, "attending_physician"
    return None


class Wakeups:
    """One ward subscription per ward; an ``asyncio.Event`` per patient set by each of their events."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._events: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: The latest pushed state of each task, by patient then task id (what the watcher was allowed to see).
        self._pushed: defaultdict[str, dict[str, dict]] = defaultdict(dict)
        #: The latest pushed status of each patient's encounter (``in-progress`` once admitted, ``finished``).
        self._encounters: dict[str, str] = {}
        #: The latest pushed state of each stage row (``imaging-order``, ``claim``…), by patient then ref.
        self._stages: defaultdict[str, dict[str, dict]] = defaultdict(dict)
        self.received = 0

    def watch(self, ward: str) -> None:
        """Start following ``ward`` (idempotent; a ward nobody may watch is skipped)."""
        if ward in self._tasks:
            return
        watcher = ward_watcher(ward)
        if watcher is None:
            return
        self._tasks[ward] = asyncio.create_task(self._follow(ward, *watcher))

    async def _follow(self, ward: str, user: str, role: str) -> None:
        token = issue_token(self._settings, user, role, ttl=self._settings.token_ttl_seconds)
        try:
            async for event in stream(self._settings, f"/ws/wards/{ward}", token):
                patient = event.get("patient_id")
                if patient:
                    self.received += 1
                    data = event.get("data")
                    if event.get("kind") == "task" and isinstance(data, dict) and data.get("id"):
                        self._pushed[patient][str(data["id"])] = data
                    elif event.get("kind") == "stage" and isinstance(data, dict) and data.get("source"):
                        self._stages[patient][str(event.get("ref"))] = data
                    elif event.get("kind") == "stage" and isinstance(data, dict) and data.get("status") \
                            and "stage_ref" not in data:
                        self._encounters[patient] = str(data["status"])
                    self._events[patient].set()
        except Exception as exc:  # noqa: BLE001 - a refused or failing stream leaves the fallback polling
            log.warning("ward stream %s ended (%s); waits fall back to polling", ward, type(exc).__name__)

    def pushed_task(self, patient: str, task_type: str, match: dict | None = None,
                    role: str | None = None) -> dict | None:
        """An open task of ``task_type`` for ``patient`` (details containing ``match``) as last pushed, if any:
        the task's id and details as the inbox would list them, without asking the inbox."""
        for task in self._pushed.get(patient, {}).values():
            if (task.get("type") == task_type and task.get("status") == "open"
                    and (role is None or task.get("role") == role)
                    and all((task.get("details") or {}).get(k) == v for k, v in (match or {}).items())):
                return task
        return None

    def pushed_stage(self, patient: str, source: str, match: dict | None = None) -> dict | None:
        """A stage row of ``source`` for ``patient`` (its data containing ``match``) as last pushed, if any."""
        for data in self._stages.get(patient, {}).values():
            if data.get("source") == source and all(data.get(k) == v for k, v in (match or {}).items()):
                return data
        return None

    def encounter_status(self, patient: str) -> str | None:
        """The status of the patient's encounter as last pushed (None before any encounter event)."""
        return self._encounters.get(patient)

    def armed(self, patient: str) -> asyncio.Event:
        """The patient's wake-up, cleared: call before probing, then wait on it if the probe found nothing."""
        event = self._events[patient]
        event.clear()
        return event

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

"""Who may hold a stream, and which pushed events they may see — and what the ledger records.

Audit granularity (every decision goes through ``api.access.authorize``, so each is a
ledger entry with the decision, allowed or denied):

* one entry when a socket subscribes (``stream.subscribe.patient`` / ``.ward``), and one
  more at every re-check of that subscription (``stream.recheck.*``, every
  ``recheck_seconds``);
* one entry per distinct push decision (``stream.push.<kind>``, naming the first
  resource pushed): per patient, resource type and policy-relevant facts (ward, care
  team, consent, labels, task role), valid for the same interval; further pushes under
  the same facts inside the interval are covered by it and not recorded one by one.

A patient stream is reading the patient's live journey (``Journey`` read: the care team,
the ward's nurses, the patient); a ward stream is listing the ward's encounters
(``Encounter`` list on a resource naming the ward and the care teams that cover it).
Each pushed event is decided again as a read of its own type (vitals and results are
``Observation``, tasks ``Task``, stages ``Encounter``) for its own patient, with its
labels — so a ward stream shows an attending only their team's patients, and a revoked
care-team membership stops the stream at the next re-check (the user directory caches
attributes for up to 30 s more).
"""
from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage.models import CareTeam, Ward
from api.access import authorize
from api.auth import Principal
from api.routes.resources import patient_exists, patient_resource
from api.services import ApiServices
from api.streams.hub import StreamEvent

#: The policy resource type of each event kind.
KIND_TYPES = {"vitals": "Observation", "result": "Observation", "task": "Task", "stage": "Encounter"}


class StreamTarget:
    """A patient or a ward, and how to decide a subscription to it."""

    def __init__(self, *, patient_id: str | None = None, ward: str | None = None) -> None:
        self.patient_id, self.ward = patient_id, ward
        self.label = f"patient {patient_id}" if patient_id is not None else f"ward {ward}"

    def exists(self, services: ApiServices) -> bool:
        if self.patient_id is not None:
            return patient_exists(services, self.patient_id)
        if self.ward is None or len(self.ward) > 40:
            return False
        with services.sessions() as s:
            return s.get(Ward, self.ward) is not None

    def resource(self, services: ApiServices) -> tuple[str, dict[str, Any]]:
        """(action, resource) of the subscription decision."""
        if self.patient_id is not None:
            return "read", patient_resource(services, "Journey", self.patient_id)
        with services.sessions() as s:
            teams = list(s.scalars(sa.select(CareTeam.id).where(CareTeam.wards.any(self.ward)).order_by(CareTeam.id)))
        return "list", {"type": "Encounter", "id": f"ward/{self.ward}", "patient_id": None, "ward": self.ward,
                        "care_teams": teams, "attending": None, "security": [], "inpatient": True, "consent": {}}

    async def authorize(self, services: ApiServices, principal: Principal, step: str) -> None:
        """Decide (and record) the subscription; raises HTTPException 403/503 like any route."""
        action, resource = await run_in_threadpool(self.resource, services)
        scope = "patient" if self.patient_id is not None else "ward"
        await authorize(services, principal, action=action, resource=resource, subtype=f"stream.{step}.{scope}")


class EventGate:
    """Per-event decisions, cached per distinct policy input for ``ttl`` seconds."""

    def __init__(self, services: ApiServices, principal: Principal, ttl: float) -> None:
        self._services, self._principal, self._ttl = services, principal, ttl
        self._cache: dict[str, tuple[float, bool]] = {}

    def reset(self) -> None:
        """Forget the decisions (at a subscription re-check), so the next push decides afresh."""
        self._cache.clear()

    async def allows(self, event: StreamEvent, facts: dict[str, Any]) -> bool:
        """Whether the subscriber may see this event; decided (and recorded) once per distinct policy input.

        The cache key is the whole policy resource but its id — ward, care teams, attending,
        consent, labels, task role — so a change in the patient's relationships (a care team
        assigned during admission, a transfer, a withdrawn consent) is a new decision at once,
        never a stale cached one.
        """
        rtype = KIND_TYPES.get(event.kind, "Observation")
        extra = {k: v for k, v in facts.items() if k in ("task_role", "assigned_to")}
        resource = await run_in_threadpool(patient_resource, self._services, rtype, event.patient_id, event.ref,
                                           default_ward=event.ward, **extra)
        resource["security"] = sorted(str(label) for label in facts.get("security") or ())
        key = json.dumps({k: v for k, v in resource.items() if k != "id"}, sort_keys=True, default=str)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        try:
            await authorize(self._services, self._principal, action="read", resource=resource,
                            subtype=f"stream.push.{event.kind}")
            allowed = True
        except HTTPException as exc:
            if exc.status_code != 403:
                raise
            allowed = False
        self._cache[key] = (now, allowed)
        return allowed

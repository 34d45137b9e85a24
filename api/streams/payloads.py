"""The ``data`` of a pushed event: the current resource, read the way the API reads it.

An event is only a pointer; what a subscriber gets is the resource as it is now
(a later change is a later event). Vitals and results are FHIR Observations from the
observations store (decrypted under the patient's key), a task is the inbox row, a stage
is the encounter's state — or, for an event naming a stage's row (``<source>/<id>``, from the
stages' tables), that stage's kind, status and ids (``api.streams.stages``). Alongside the data come the facts the policy needs to decide
the push (a task's role and assignee, an observation's security labels); they are never
sent. A record that is gone or erased pushes ``data: null``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from activities.crypto.fields import DataErased
from activities.storage import observations_repo
from activities.storage import repository as repo
from activities.storage import tasks as task_store
from activities.storage.models import Encounter
from activities.storage.models_triage import VitalSigns
from api.services import ApiServices
from api.streams.hub import StreamEvent
from api.streams.stages import describe, source_of

#: The journey stage an encounter's status stands for.
STAGE_BY_STATUS = {"planned": "admission", "in-progress": "admitted", "finished": "discharged",
                   "cancelled": "cancelled"}


def load(services: ApiServices, event: StreamEvent) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(data, policy facts) of the event's resource; runs in a worker thread."""
    try:
        with services.sessions() as s:
            if event.kind in ("vitals", "result"):
                return _observation(s, services, event)
            if event.kind == "task":
                return _task(s, services, event.ref)
            if event.kind == "stage":
                return _stage(s, event), {}
    except DataErased:
        return None, {}
    return None, {}


def _observation(s: Any, services: ApiServices, event: StreamEvent) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    obs_id = event.ref
    if event.kind == "vitals" and s.get(VitalSigns, event.ref) is not None:
        obs_id = f"{observations_repo.VITALS_PREFIX}{event.ref}"  # bedside vitals, projected as an Observation
    obs = observations_repo.get_observation(s, services.field_cipher, obs_id)
    if obs is None:
        return None, {}
    labels = [lab.get("code") if isinstance(lab, dict) else lab for lab in (obs.get("meta") or {}).get("security", [])]
    return obs, {"security": [str(lab) for lab in labels if lab]}


def _task(s: Any, services: ApiServices, task_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    t = task_store.read_task(s, services.field_cipher, task_id)
    if t is None:
        return None, {}
    data = {"id": t.id, "type": t.type, "role": t.role, "patient_id": t.patient_id, "journey_id": t.journey_id,
            "ward": t.ward_id, "status": t.status, "due": _iso(t.due), "created_at": _iso(t.created_at),
            "completed_at": _iso(t.completed_at), "completed_by": t.completed_by, "details": t.details or {}}
    assigned = (t.details or {}).get("assigned_to")
    return data, {"task_role": t.role, "assigned_to": assigned}


def _stage(s: Any, event: StreamEvent) -> dict[str, Any] | None:
    """The stage row the event names (``<source>/<id>``), else the encounter it names; for a stage event
    emitted by a workflow (any other ``ref``) the patient's current encounter, with ``stage_ref`` saying
    which stage."""
    row = source_of(event.ref)
    if row is not None:
        return describe(s, *row)
    enc = s.get(Encounter, event.ref) if len(event.ref) <= 36 else None
    extra: dict[str, Any] = {}
    if enc is None:
        enc = repo.current_encounter(s, event.patient_id)
        extra = {"stage_ref": event.ref}
    if enc is None:
        return None
    return {"encounter_id": enc.id, "journey_id": enc.journey_id, "status": enc.status,
            "stage": STAGE_BY_STATUS.get(enc.status, enc.status), "ward": enc.ward_id,
            "admitted_at": _iso(enc.admitted_at), "ended_at": _iso(enc.ended_at), **extra}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def message(event: StreamEvent, data: dict[str, Any] | None) -> dict[str, Any]:
    """The wire shape of one pushed event."""
    return {"id": event.id, "kind": event.kind, "patient_id": event.patient_id, "ward": event.ward,
            "ref": event.ref, "occurred_at": _iso(event.occurred_at), "data": data}

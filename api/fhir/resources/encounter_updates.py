"""Encounter update: the journey owns the stay, so an update takes only what maps to something the
hospital does with a stay, and refuses the rest naming the element that may not change.

- ``reasonCode`` (one text) while the stay is in progress: the stay's reason is re-sealed in
  ``hms.encounters`` (the journey keeps no copy), and the ``enc-<id>`` Condition follows it.
- ``status`` → ``finished``: 409, a stay ends through its journey's discharge (the checklist
  ``POST /api/v1/journeys/{id}/discharge-plan`` or ``POST /api/v1/journeys/{id}/discharge``).
- ``subject``, ``class``, ``identifier``, ``period``, ``location`` (ward, bed) and ``participant``
  (attending, care team) are the admission journey's: no journey action changes them, so 422.

``If-Match`` was checked by the framework against the version read; it is checked again under
the row lock, so a write that came in between is a 412 too.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from activities.crypto.fields import FieldCipher
from activities.storage import encounter_updates
from activities.storage.models import ACTIVE_ENCOUNTER_STATES, Encounter
from api.fhir.errors import FhirError
from api.fhir.interactions import session_call
from api.fhir.registry import Resource, Written
from api.fhir.resources.encounter_writes import served
from api.fhir.versions import finish

#: Why each element may not change through an update.
FIXED = {
    "subject": "a stay belongs to the patient it was opened for",
    "class": "the admission journey records the class",
    "identifier": "the journey id names the stay",
    "period": "the journey records when the stay began and ended",
    "location": "the ward and bed are assigned by the admission journey; no journey action transfers a patient",
    "participant": "the attending and care team are assigned by the admission journey; no journey action "
                   "changes them",
}
#: Compared separately (or not content: narrative and meta are regenerated).
OWN = {"resourceType", "id", "meta", "text", "status", "reasonCode"}


def _same(a: Any, b: Any) -> bool:
    return (a or None) == (b or None)


def _apply(session: Session, cipher: FieldCipher, rid: str, body: Resource, current: Resource) -> Resource:
    row = session.get(Encounter, rid, with_for_update=True) if len(rid) <= 36 else None
    if row is None:
        raise FhirError(404, f"Encounter/{rid} not found")
    fresh = finish(served(session, cipher, rid))[0]
    if fresh["meta"]["versionId"] != current["meta"]["versionId"]:
        raise FhirError(412, f"Encounter/{rid} changed while this update was checked; read it again")
    for element in sorted((set(body) | set(fresh)) - OWN):
        if not _same(body.get(element), fresh.get(element)):
            why = FIXED.get(element, "not kept for a stay")
            raise FhirError(422, f"Encounter.{element} may not change: {why}", expression=[f"Encounter.{element}"])
    active = row.status in ACTIVE_ENCOUNTER_STATES
    if body.get("status") != fresh.get("status"):
        if body.get("status") == "finished" and active:
            raise FhirError(409, f"a stay ends through its journey's discharge: POST /api/v1/journeys/{row.journey_id}"
                                 "/discharge-plan (the checklist) or /discharge")
        raise FhirError(422, "Encounter.status may not change: the journey sets it (planned, in-progress, "
                             "finished at discharge)", expression=["Encounter.status"])
    if _same(body.get("reasonCode"), fresh.get("reasonCode")):
        return fresh
    if not active:
        raise FhirError(409, "the stay has ended: its reason stays as recorded")
    reasons = body.get("reasonCode") or []
    text = str(reasons[0].get("text") or "").strip() if len(reasons) == 1 else ""
    if not text or len(text) > 500 or reasons[0].get("coding") or set(reasons[0]) - {"text"}:
        raise FhirError(422, "Encounter.reasonCode: one reason as text (1 to 500 characters); record coded "
                             "diagnoses as Condition", expression=["Encounter.reasonCode"])
    encounter_updates.set_reason(session, cipher, row, text)
    return served(session, cipher, rid)


async def update(services: Any, user: Any, rt: Any, rid: str, body: Resource, current: Resource) -> Written:
    """``journey_update`` of Encounter: the stored stay (200) once the change is made, or the refusal."""
    stored = await run_in_threadpool(session_call, services, _apply, rid, body, current, write=True)
    return stored, False

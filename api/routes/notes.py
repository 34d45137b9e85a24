"""Clinical notes with HL7 sensitivity labels: attendings write them; the policy decides who reads them.

A note labelled ``PSY`` (or ``HIV``, ``ETH``, ``SDV``, ``SEX``) carries the label as
FHIR ``meta.security``; a billing clerk is refused every note, a nurse a labelled note
unless on the patient's care team. Note text never reaches the ledger or the logs; it is stored
encrypted under the patient's data key, and once the patient's record is erased a read answers 410.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from activities.storage import repository as repo
from activities.storage import security_repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_exists, patient_resource
from api.services import ApiServices

router = APIRouter(tags=["notes"])

#: HL7 v3 ActCode sensitivity codes this hospital labels notes with.
LABELS = ("PSY", "HIV", "ETH", "SDV", "SEX")
LABEL_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)
    sensitivity: list[str] = Field(default_factory=list, max_length=len(LABELS))

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a note needs text")
        return v

    @field_validator("sensitivity")
    @classmethod
    def _known_labels(cls, v: list[str]) -> list[str]:
        labels = [label.upper() for label in v]
        unknown = sorted(set(labels) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown sensitivity label(s) {', '.join(unknown)}; use {', '.join(LABELS)}")
        return sorted(set(labels))


class NoteCreated(BaseModel):
    id: str


class NoteOut(BaseModel):
    id: str
    patient_id: str
    encounter_id: str | None
    author: str
    text: str
    sensitivity: list[str]
    meta: dict[str, Any]
    created_at: datetime
    #: ``current``, or ``entered-in-error`` once corrected (FHIR DocumentReference update); the text is the
    #: latest version (an amendment keeps the replaced one).
    status: str = "current"


@router.post("/api/v1/patients/{patient_id}/notes", status_code=201, response_model=NoteCreated)
async def create_note(patient_id: str, body: NoteIn, user: CurrentUser, services: Services) -> NoteCreated:
    """Write a note on the patient's current stay; the policy checks the care team before anything is stored."""
    exists = await run_in_threadpool(patient_exists, services, patient_id)
    if not exists:
        raise HTTPException(404, f"patient {patient_id} not found")
    note_id = str(uuid.uuid4())
    resource = await run_in_threadpool(patient_resource, services, "Note", patient_id, note_id,
                                       security=list(body.sensitivity))
    granted = await authorize(services, user, action="create", resource=resource, subtype="note.create")
    await run_in_threadpool(_store, services, note_id, patient_id, granted.subject.id, body)
    return NoteCreated(id=note_id)


@router.get("/api/v1/notes/{note_id}", response_model=NoteOut)
async def read_note(note_id: str, user: CurrentUser, services: Services) -> NoteOut:
    """One note, with its labels as FHIR ``meta.security``; 403 (recorded) per the roles matrix."""
    meta = await run_in_threadpool(_note_meta, services, note_id)
    if meta is None:
        raise HTTPException(404, f"note {note_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "Note", meta["patient_id"], note_id,
                                       security=meta["security"])
    await authorize(services, user, action="read", resource=resource, subtype="note.read")
    note = await run_in_threadpool(_read, services, note_id)
    return note



def _store(services: ApiServices, note_id: str, patient_id: str, author: str, body: NoteIn) -> None:
    with services.sessions() as s, s.begin():
        enc = repo.current_encounter(s, patient_id)
        security_repo.add_note(s, services.field_cipher, note_id=note_id, patient_id=patient_id,
                               encounter_id=enc.id if enc else None, author_id=author, text=body.text,
                               security=body.sensitivity)


def _note_meta(services: ApiServices, note_id: str) -> dict[str, Any] | None:
    if len(note_id) > 36:
        return None
    with services.sessions() as s:
        note = security_repo.get_note(s, note_id)
        return None if note is None else {"patient_id": note.patient_id, "security": list(note.security)}


def _read(services: ApiServices, note_id: str) -> NoteOut:
    with services.sessions() as s:
        note = security_repo.get_note(s, note_id)
        if note is None:
            raise HTTPException(404, f"note {note_id} not found")
        text = security_repo.note_text(s, services.field_cipher, note)
        return NoteOut(id=note.id, patient_id=note.patient_id, encounter_id=note.encounter_id, author=note.author_id,
                       text=text, sensitivity=list(note.security), created_at=note.created_at, status=note.status,
                       meta={"security": [{"system": LABEL_SYSTEM, "code": code} for code in note.security]})

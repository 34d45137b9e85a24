"""DocumentReference create: a clinical note written through FHIR lands where ``POST
/api/v1/patients/{id}/notes`` puts it (``security_repo.add_note``, text encrypted under the patient's
data key), with its ``meta.security`` sensitivity labels kept, so the note policy decides every
later read exactly as for a note written through the task API.

The text is the first attachment's ``data`` (base64 of UTF-8 ``text/plain``). A create with an
identifier is idempotent: the note's id is derived from the identifier (a blind index), so a
resent document answers 200 with the stored note instead of writing a second one. The identifiers
are kept with the note (``identifiers``, sealed), served on its reads and searchable.
"""
from __future__ import annotations

import base64
import binascii
import uuid

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import repository as repo
from activities.storage import security_repo
from activities.storage.models import Encounter
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, WriteContext, labels_of, read_written
from api.fhir.resources.common import known_patient
from api.fhir.resources.identifiers import elements, remember

#: HL7 v3 ActCode sensitivity codes notes are labelled with (as the task API's notes take them).
LABELS = ("PSY", "HIV", "ETH", "SDV", "SEX")
MAX_TEXT = 20_000


def new_id(body: Resource, ctx: WriteContext) -> str:
    """A uuid derived from the first identifier (so a resent note keeps its id), else a fresh one."""
    idents = body.get("identifier") or []
    first = idents[0] if idents and isinstance(idents[0], dict) else {}
    if not first.get("value") or ctx.cipher is None:
        return str(uuid.uuid4())
    index = ctx.cipher.blind_index(f"document|{first.get('system') or ''}", str(first["value"]))
    return str(uuid.UUID(bytes=index[:16], version=4))


def note_text(body: Resource) -> str:
    """The note's text from ``content[0].attachment`` (422 naming the element when unusable)."""
    where = ["DocumentReference.content[0].attachment"]
    content = body.get("content") or []
    attachment = (content[0] or {}).get("attachment") or {} if content else {}
    ctype = str(attachment.get("contentType") or "text/plain").split(";")[0].strip().lower()
    if ctype != "text/plain" or len(content) != 1:
        raise FhirError(422, "a note is one text/plain attachment", expression=where)
    try:
        text = base64.b64decode(str(attachment.get("data") or ""), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise FhirError(422, "the attachment's data must be base64 of UTF-8 text", expression=where) from None
    if not text.strip() or len(text) > MAX_TEXT:
        raise FhirError(422, f"a note needs text (1 to {MAX_TEXT} characters)", expression=where)
    return text


def labels(body: Resource, rtype: str = "DocumentReference") -> list[str]:
    """The sensitivity labels to keep; a label this store cannot keep is refused, never dropped."""
    found = labels_of(body)
    unknown = sorted(set(found) - set(LABELS))
    if unknown:
        raise FhirError(422, f"unknown sensitivity label(s) {', '.join(unknown)}; use {', '.join(LABELS)}",
                        expression=[f"{rtype}.meta.security"])
    return found


def _encounter(session: Session, body: Resource, patient_id: str) -> str | None:
    """The stay the note belongs to: ``context.encounter`` when given (it must be the patient's), else the
    patient's current stay, as for a note written through the task API."""
    refs = ((body.get("context") or {}).get("encounter") or [])
    value = (refs[0] or {}).get("reference") if refs else None
    if value is None:
        enc = repo.current_encounter(session, patient_id)
        return enc.id if enc else None
    eid = value.removeprefix("Encounter/") if isinstance(value, str) and value.startswith("Encounter/") else ""
    found = session.get(Encounter, eid) if 0 < len(eid) <= 36 else None
    if found is None or found.patient_id != patient_id or len(refs) != 1:
        raise FhirError(422, "DocumentReference.context.encounter must reference one stay of the subject",
                        expression=["DocumentReference.context.encounter"])
    return found.id


def _read_back(session: Session, cipher: FieldCipher, note_id: str) -> Resource:
    return read_written(session, cipher, "DocumentReference", note_id)


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    """Store the note (idempotent on its id) and answer it as a read will serve it."""
    patient_id = known_patient(session, body, "DocumentReference", "subject")
    text, security = note_text(body), labels(body)
    elements("DocumentReference", body)
    if body.get("status", "current") != "current":
        raise FhirError(422, "a new note has status current", expression=["DocumentReference.status"])
    existing = security_repo.get_note(session, body["id"])
    if existing is not None:
        if existing.patient_id != patient_id:
            raise FhirError(409, "a DocumentReference with this identifier is stored for another subject")
        remember(session, cipher, "DocumentReference", body["id"], patient_id, body)  # a note stored before them
        return _read_back(session, cipher, body["id"]), False
    security_repo.add_note(session, cipher, note_id=body["id"], patient_id=patient_id,
                           encounter_id=_encounter(session, body, patient_id), author_id=ctx.user_id, text=text,
                           security=security)
    remember(session, cipher, "DocumentReference", body["id"], patient_id, body)
    return _read_back(session, cipher, body["id"]), True

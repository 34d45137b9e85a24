"""DocumentReference update: a clinical note amended, relabelled or marked entered-in-error.

One update may give the note a new text (``docStatus`` amended; still one text/plain attachment,
sealed under the patient's data key like every note), change its sensitivity labels
(``meta.security``: the framework has the policy decide on the old and new labels together, so
only someone who may see a PSY note can remove or add PSY), or set ``status`` entered-in-error (the
text stays as it was; the note changes no more). The note's row takes the new version, so the
task API's ``GET /api/v1/notes/{id}`` and its policy see it too; the replaced version is kept,
sealed (``record_versions``). What the note is about (subject, stay, author, type) stays (422).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.documentreference import DocumentReference as FhirDocument
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import record_versions, security_repo
from activities.storage.models_security import ClinicalNote
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, WriteContext
from api.fhir.resources import note_writes
from api.fhir.resources.amend import refuse_other_changes, served, version_of
from api.fhir.resources.common import iso

STATUSES = ("current", "entered-in-error")


def update(session: Session, cipher: FieldCipher, rid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """Apply the amendment, relabelling or withdrawal; the same note sent back changes nothing."""
    note = session.scalar(sa.select(ClinicalNote).where(ClinicalNote.id == rid).with_for_update()
                          .execution_options(populate_existing=True)) if len(rid) <= 36 else None
    current = served(session, cipher, "DocumentReference", rid) if note is not None else None
    if note is None or current is None:
        return None
    status = body.get("status")
    if status not in STATUSES:
        raise FhirError(422, "DocumentReference.status: current, or entered-in-error (a replacement is a new note)",
                        expression=["DocumentReference.status"])
    refuse_other_changes("DocumentReference", FhirDocument, body, current, {"status", "docStatus", "content"},
                         "an update amends the note's text, its labels or marks it entered-in-error")
    text, labels = note_writes.note_text(body), note_writes.labels(body)
    old_text = security_repo.note_text(session, cipher, note)
    changes = []
    if text != old_text:
        if status == "entered-in-error":
            raise FhirError(422, "DocumentReference.content: a note entered in error keeps its text",
                            expression=["DocumentReference.content"])
        if body.get("docStatus") != "amended":
            raise FhirError(422, "DocumentReference.docStatus: a new text is an amendment (docStatus amended)",
                            expression=["DocumentReference.docStatus"])
        changes.append("amended")
    if labels != sorted(note.security or []):
        changes.append("relabelled")
    if status != note.status:
        changes.append(status)
    if not changes:
        return current
    if note.status == "entered-in-error":
        raise FhirError(409, f"DocumentReference/{rid} was entered in error and changes no more")
    record_versions.keep(session, cipher, rtype="DocumentReference", rid=rid, version=version_of(current),
                         patient_id=note.patient_id, changes=changes, by=ctx.user_id,
                         content={"text": old_text, "security": list(note.security or []), "status": note.status})
    key = cipher.data_key(session, note.patient_id)
    note.text = cipher.encrypt(key, security_repo.NOTES, "text", note.id, text)
    note.security, note.status = labels, status
    session.flush()
    return served(session, cipher, "DocumentReference", rid)


def versioned(to_fhir: Any) -> Any:
    """The note as served, with its status, its version (1 + the versions kept) and, once its text was
    amended, ``docStatus`` amended."""

    def document(session: Session, cipher: FieldCipher, note: ClinicalNote) -> Resource:
        out = to_fhir(session, cipher, note)
        info = record_versions.current(session, "DocumentReference", note.id)
        meta = {**(out.get("meta") or {}), "versionId": str(info.version)}
        if info.since is not None:
            meta["lastUpdated"] = iso(info.since)
        out["meta"], out["status"] = meta, note.status or "current"
        if "amended" in info.changes:
            out["docStatus"] = "amended"
        return out

    return document

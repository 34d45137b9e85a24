"""Kept versions of amended records, and imaging study descriptions, sealed under the patient's data key.

An amendment keeps the version it replaces here before the record's own row takes the new one, so
the current version is where every reader already looks and the past stays readable (with the
patient's key) for audits and medico-legal review. A record's version number is one more than the
number of versions kept; two amendments racing for the same number collide on the primary key
(the second is refused, never merged).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import sealed
from activities.storage.models_versions import ImagingStudyDescription, RecordVersion

VERSIONS, DESCRIPTIONS = "record_versions", "imaging_study_descriptions"


@dataclass(frozen=True)
class VersionInfo:
    """The current version number of a record, when it replaced the previous one (None: never amended),
    and the kinds of change the record went through (``amended``, ``relabelled``…)."""

    version: int
    since: datetime | None
    changes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KeptVersion:
    version: int
    content: dict[str, Any]
    change: str
    superseded_by: str
    superseded_at: datetime


def _row_id(rtype: str, rid: str, version: int) -> str:
    return f"{rtype}/{rid}/{version}"


def keep(session: Session, cipher: FieldCipher, *, rtype: str, rid: str, version: int, patient_id: str,
         content: dict[str, Any], changes: list[str], by: str) -> None:
    """Keep ``content`` as version ``version`` of the record, replaced by ``by`` for ``changes`` (codes);
    an ``IntegrityError`` when that version is kept already (a concurrent amendment came first)."""
    key = cipher.data_key(session, patient_id, create=True)
    session.execute(insert(RecordVersion).values(
        resource_type=rtype, resource_id=rid, version=version, patient_id=patient_id, superseded_by=by,
        change=",".join(changes)[:60],
        content=sealed.seal_json(cipher, key, VERSIONS, "content", _row_id(rtype, rid, version), content)))


def current(session: Session, rtype: str, rid: str) -> VersionInfo:
    """The record's current version: 1 + the versions kept, when the last one was replaced, and why."""
    count, since, changes = session.execute(sa.select(
        sa.func.count(), sa.func.max(RecordVersion.superseded_at), sa.func.array_agg(RecordVersion.change),
    ).where(RecordVersion.resource_type == rtype, RecordVersion.resource_id == rid)).one()
    kinds = frozenset(code for joined in changes or [] for code in joined.split(",") if code)
    return VersionInfo(version=1 + int(count or 0), since=since, changes=kinds)


def history(session: Session, cipher: FieldCipher, rtype: str, rid: str) -> list[KeptVersion]:
    """The kept versions of a record, oldest first, opened (``DataErased`` once the patient was erased)."""
    rows = list(session.scalars(sa.select(RecordVersion).where(
        RecordVersion.resource_type == rtype, RecordVersion.resource_id == rid).order_by(RecordVersion.version)))
    out = []
    for row in rows:
        key = sealed.key_of(session, cipher, row.patient_id)
        content = sealed.unseal_json(cipher, key, VERSIONS, "content", _row_id(rtype, rid, row.version), row.content)
        out.append(KeptVersion(row.version, content, row.change, row.superseded_by, row.superseded_at))
    return out


def set_description(session: Session, cipher: FieldCipher, *, study_id: str, patient_id: str,
                    description: str | None, by: str) -> None:
    """Set (or, with None, remove) a study's description."""
    if description is None:
        session.execute(sa.delete(ImagingStudyDescription).where(ImagingStudyDescription.study_id == study_id))
        return
    key = cipher.data_key(session, patient_id, create=True)
    blob = cipher.encrypt(key, DESCRIPTIONS, "description", study_id, description)
    session.execute(insert(ImagingStudyDescription).values(
        study_id=study_id, patient_id=patient_id, description=blob, updated_by=by, updated_at=sa.func.now(),
    ).on_conflict_do_update(index_elements=["study_id"], set_={
        "description": blob, "updated_by": by, "updated_at": sa.func.now()}))


def description_of(session: Session, cipher: FieldCipher, study_id: str) -> tuple[str, datetime] | None:
    """A study's description and when it was set; None when it has none."""
    row = session.get(ImagingStudyDescription, study_id)
    if row is None:
        return None
    key = sealed.key_of(session, cipher, row.patient_id)
    return cipher.decrypt(key, DESCRIPTIONS, "description", study_id, row.description), row.updated_at

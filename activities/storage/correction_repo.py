"""Correction requests: stored encrypted under the patient's data key, decided once, read decrypted.

Writes are idempotent (a retried insert or decision leaves one row as one run would).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage.models_corrections import CorrectionRequest

TABLE = "correction_requests"
#: Demographic fields a patient may ask to correct.
FIELDS = ("given", "family", "birth_date", "gender", "identifier")
DECISIONS = ("accepted", "rejected")


@dataclass(frozen=True)
class CorrectionView:
    id: str
    patient_id: str
    field: str
    proposed_value: str
    comment: str | None
    requested_by: str
    requested_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    workflow_id: str


def add(session: Session, cipher: FieldCipher, *, request_id: str, patient_id: str, field: str, proposed_value: str,
        comment: str | None, requested_by: str, requested_at: datetime, workflow_id: str) -> None:
    key = cipher.data_key(session, patient_id)
    session.execute(insert(CorrectionRequest).values(
        id=request_id, patient_id=patient_id, field=field,
        proposed_value=cipher.encrypt(key, TABLE, "proposed_value", request_id, proposed_value),
        comment=None if comment is None else cipher.encrypt(key, TABLE, "comment", request_id, comment),
        requested_by=requested_by, requested_at=requested_at, workflow_id=workflow_id,
    ).on_conflict_do_nothing())


def remove_open(session: Session, request_id: str) -> None:
    """Undo a request whose workflow could not be started (nothing else refers to it yet)."""
    session.execute(sa.delete(CorrectionRequest).where(CorrectionRequest.id == request_id,
                                                       CorrectionRequest.status == "open"))


def decide(session: Session, cipher: FieldCipher, request_id: str, *, decision: str, by: str, at: datetime,
           reason: str | None) -> bool:
    """Record the clerk's decision on an open request; False when it was already decided (a retry)."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    row = session.get(CorrectionRequest, request_id)
    if row is None or row.status != "open":
        return False
    sealed = None
    if reason is not None:
        sealed = cipher.encrypt(cipher.data_key(session, row.patient_id), TABLE, "decision_reason", request_id, reason)
    done = session.execute(
        sa.update(CorrectionRequest).where(CorrectionRequest.id == request_id, CorrectionRequest.status == "open")
        .values(status=decision, decided_by=by, decided_at=at, decision_reason=sealed))
    return bool(done.rowcount)


def for_patient(session: Session, cipher: FieldCipher, patient_id: str) -> list[CorrectionView]:
    """The patient's requests, newest first, decrypted (``DataErased`` once the patient's key is shredded)."""
    rows = session.scalars(sa.select(CorrectionRequest).where(CorrectionRequest.patient_id == patient_id)
                           .order_by(CorrectionRequest.requested_at.desc())).all()
    if not rows:
        return []
    key = cipher.data_key(session, patient_id)

    def opened(row: CorrectionRequest, column: str) -> str | None:
        blob = getattr(row, column)
        return None if blob is None else cipher.decrypt(key, TABLE, column, row.id, blob)

    return [CorrectionView(id=r.id, patient_id=r.patient_id, field=r.field,
                           proposed_value=opened(r, "proposed_value") or "", comment=opened(r, "comment"),
                           requested_by=r.requested_by, requested_at=r.requested_at, status=r.status,
                           decided_by=r.decided_by, decided_at=r.decided_at,
                           decision_reason=opened(r, "decision_reason"), workflow_id=r.workflow_id)
            for r in rows]

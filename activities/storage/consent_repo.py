"""Consent to processing, per purpose of use (DPDP Act, HIPAA): an append-only history per patient.

Each grant, refusal or withdrawal is a new row; the patient's current state for a
purpose is the latest row. The policy reads that state with every patient resource
(``consent_state``), so a withdrawal stops processing from the next request on.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.storage.models import Consent

#: HL7 v3 PurposeOfUse codes a patient gives or withdraws consent for (ETREAT never needs it).
PURPOSES = ("TREAT", "HRESCH", "HMARKT")
ACTIVE, WITHDRAWN, REJECTED = "active", "withdrawn", "rejected"


class NoActiveConsent(Exception):
    """Withdrawal of a purpose the patient has no active consent for."""


@dataclass(frozen=True)
class ConsentRecord:
    id: str
    patient_id: str
    purpose: str
    status: str
    recorded_by: str
    recorded_at: datetime


def _record(row: Consent) -> ConsentRecord:
    return ConsentRecord(id=row.id, patient_id=row.patient_id, purpose=row.purpose, status=row.status,
                         recorded_by=row.recorded_by, recorded_at=row.recorded_at)


def consent_state(session: Session, patient_id: str) -> dict[str, str | None]:
    """The latest status per purpose (``None`` where nothing is recorded), as the policy input carries it."""
    rows = session.execute(
        sa.select(Consent.purpose, Consent.status)
        .where(Consent.patient_id == patient_id)
        .distinct(Consent.purpose)
        .order_by(Consent.purpose, Consent.recorded_at.desc(), Consent.id.desc())
    ).all()
    state: dict[str, str | None] = dict.fromkeys(PURPOSES)
    state.update({purpose: status for purpose, status in rows})
    return state


def history(session: Session, patient_id: str) -> list[ConsentRecord]:
    """Every consent record of the patient, newest first."""
    rows = session.scalars(sa.select(Consent).where(Consent.patient_id == patient_id)
                           .order_by(Consent.recorded_at.desc(), Consent.id.desc())).all()
    return [_record(r) for r in rows]


def record(session: Session, *, consent_id: str, patient_id: str, purpose: str, status: str, by: str,
           at: datetime | None = None) -> ConsentRecord:
    """Append one consent record (idempotent on ``consent_id``); returns the stored row."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    if status not in (ACTIVE, WITHDRAWN, REJECTED):
        raise ValueError(f"unknown consent status {status!r}")
    # The clock of the statement, not of the transaction: a later record always sorts later.
    session.execute(insert(Consent).values(
        id=consent_id, patient_id=patient_id, purpose=purpose, status=status, recorded_by=by,
        recorded_at=at or datetime.now(UTC)).on_conflict_do_nothing(index_elements=["id"]))
    row = session.get(Consent, consent_id)
    assert row is not None
    return _record(row)


def withdraw(session: Session, *, consent_id: str, patient_id: str, purpose: str, by: str) -> ConsentRecord:
    """Withdraw the patient's active consent for ``purpose``; ``NoActiveConsent`` when there is none."""
    existing = session.get(Consent, consent_id)
    if existing is not None:  # a retried withdrawal
        return _record(existing)
    # Serialise concurrent changes of one patient's consents so two withdrawals cannot both succeed.
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"consent|{patient_id}"))))
    if consent_state(session, patient_id).get(purpose) != ACTIVE:
        raise NoActiveConsent(f"the patient has no active consent to {purpose}")
    return record(session, consent_id=consent_id, patient_id=patient_id, purpose=purpose, status=WITHDRAWN, by=by)

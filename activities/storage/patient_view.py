"""A patient's chart header (demographics, identifiers, current stay and bed) in one round trip.

The most frequent read of the API. Separately it was five queries (patient, data key, identifiers,
current encounter, bed); here one prebuilt statement fetches the rows and the fields (the stay's
reason too, under the same key) are decrypted in memory, with the same answers as ``repository.read_patient`` + ``current_encounter`` + ``bed_of``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from activities.crypto import dek_store
from activities.crypto.fields import FieldCipher
from activities.storage.consent_repo import PURPOSES
from activities.storage.models import (
    ACTIVE_ENCOUNTER_STATES,
    Bed,
    Consent,
    Encounter,
    Patient,
    PatientIdentifier,
)
from activities.storage.models_keys import PatientKey
from activities.storage.repository import (
    _DEMOGRAPHICS,
    CURRENT_STAY_FIRST,
    ENCOUNTERS,
    IDENTIFIERS,
    PATIENTS,
    PatientContext,
    PatientRecord,
)


@dataclass(frozen=True)
class StayView:
    id: str
    status: str
    ward: str
    bed_id: str | None
    attending: str | None
    reason: str
    admitted_at: datetime | None
    journey_id: str


def _statement() -> sa.Select:
    stay = (
        sa.select(Encounter.id, Encounter.status, Encounter.ward_id, Encounter.attending_id, Encounter.reason,
                  Encounter.admitted_at, Encounter.journey_id, Encounter.care_team_id,
                  sa.select(Bed.id).where(Bed.encounter_id == Encounter.id).scalar_subquery().label("bed_id"))
        .where(Encounter.patient_id == Patient.id)
        .order_by(*CURRENT_STAY_FIRST)
        .limit(1)
        .lateral("stay")
    )
    identifiers = (
        sa.select(sa.func.coalesce(sa.func.array_agg(aggregate_order_by(sa.func.json_build_array(
            PatientIdentifier.system, sa.func.encode(PatientIdentifier.value, "hex"),
            sa.func.encode(PatientIdentifier.value_index, "hex")), PatientIdentifier.id)), sa.text("'{}'")))
        .where(PatientIdentifier.patient_id == Patient.id)
        .scalar_subquery()
    )
    now = (
        sa.select(Consent.purpose, Consent.status)
        .where(Consent.patient_id == Patient.id)
        .distinct(Consent.purpose)
        .order_by(Consent.purpose, Consent.recorded_at.desc(), Consent.id.desc())
        .correlate(Patient)  # this patient's rows: a FROM subquery is not correlated unless told
        .subquery("consent_now")
    )
    consent = sa.select(sa.func.json_object_agg(now.c.purpose, now.c.status)).scalar_subquery()
    return (
        sa.select(Patient.id, Patient.given, Patient.family, Patient.birth_date, Patient.gender, Patient.created_at,
                  PatientKey.kek_id, PatientKey.wrapped_dek, PatientKey.shredded_at,
                  identifiers.label("identifiers"),
                  stay.c.id.label("stay_id"), stay.c.status, stay.c.ward_id, stay.c.bed_id, stay.c.attending_id,
                  stay.c.reason, stay.c.admitted_at, stay.c.journey_id, stay.c.care_team_id,
                  consent.label("consent"))
        .select_from(Patient)
        .outerjoin(PatientKey, PatientKey.patient_id == Patient.id)
        .outerjoin(stay, sa.true())
        .where(Patient.id == sa.bindparam("patient_id"))
    )


#: Built once: composing it costs more than running it. (Parameter: ``patient_id``.)
CHART_STATEMENT = _PATIENT_VIEW = _statement()


def patient_view(session: Session, cipher: FieldCipher, patient_id: str) -> tuple[PatientRecord, StayView | None] | None:
    """(decrypted demographics, current or last stay) or None for an unknown patient.

    Raises ``DataErased`` once the patient's key was shredded, ``NoDataKey`` if there never was one.
    """
    row = fetch_chart(session, patient_id)
    return None if row is None else decode_chart(session, cipher, patient_id, row)


def fetch_chart(session: Session | sa.Connection, patient_id: str) -> sa.Row | None:
    """The stored chart header of a patient (ciphertext and the wrapped data key), nothing decrypted, with
    what the policy needs about them (``policy_facts``) in the same row."""
    return session.execute(_PATIENT_VIEW, {"patient_id": patient_id}).first()


def policy_facts(row: sa.Row) -> tuple[PatientContext, dict[str, str | None]]:
    """``policy_context``'s answer (stay context, consent per purpose) from a row of ``fetch_chart``."""
    context = PatientContext(patient_id=row.id, ward=row.ward_id,
                             care_teams=(row.care_team_id,) if row.care_team_id else (), attending=row.attending_id,
                             encounter_id=row.stay_id, inpatient=row.status in ACTIVE_ENCOUNTER_STATES)
    consent: dict[str, str | None] = dict.fromkeys(PURPOSES)
    consent.update(row.consent or {})
    return context, consent


def decode_chart(session: Session | None, cipher: FieldCipher, patient_id: str,
                 row: sa.Row) -> tuple[PatientRecord, StayView | None]:
    """Decrypt a row of ``fetch_chart``. ``session`` is needed only for a patient whose key is not in the row."""
    if row.kek_id is not None or row.shredded_at is not None:
        key = cipher.key_from(dek_store.StoredKey(patient_id, row.kek_id, row.wrapped_dek, row.shredded_at))
    elif session is not None:
        key = cipher.data_key(session, patient_id)
    else:
        raise LookupError("the patient's data key is not in the row; decode with a session")
    f = {c: cipher.decrypt(key, PATIENTS, c, patient_id, getattr(row, c)) for c in _DEMOGRAPHICS}
    idents = tuple((system, cipher.decrypt(key, IDENTIFIERS, "value", index_hex, bytes.fromhex(value_hex)))
                   for system, value_hex, index_hex in row.identifiers)
    record = PatientRecord(id=patient_id, identifiers=idents, given=f["given"], family=f["family"],
                           birth_date=date.fromisoformat(f["birth_date"]), gender=f["gender"],
                           created_at=row.created_at)
    stay = None if row.stay_id is None else StayView(
        id=row.stay_id, status=row.status, ward=row.ward_id, bed_id=row.bed_id, attending=row.attending_id,
        reason=cipher.decrypt(key, ENCOUNTERS, "reason", row.stay_id, row.reason), admitted_at=row.admitted_at,
        journey_id=row.journey_id)
    return record, stay

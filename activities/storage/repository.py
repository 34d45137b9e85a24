"""Repository functions over a SQLAlchemy session: every write is idempotent.

Workflows retry activities; each function here can run twice with the same
arguments and leave the store as one run would.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto import dek_store
from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import sealed
from activities.storage.models import (
    ACTIVE_ENCOUNTER_STATES,
    Bed,
    CareTeam,
    CareTeamMember,
    Consent,
    Encounter,
    Patient,
    PatientIdentifier,
    User,
    Ward,
)


class StorageConflict(Exception):
    """A business rule refused the write (e.g. a second active stay); retrying will not help."""


class NotFound(Exception):
    pass


#: Table names as they appear in the associated data of encrypted fields.
PATIENTS, IDENTIFIERS, ENCOUNTERS = "patients", "patient_identifiers", "encounters"
_DEMOGRAPHICS = ("given", "family", "birth_date", "gender")


@dataclass(frozen=True)
class PatientRecord:
    """A patient's demographics, decrypted."""

    id: str
    identifiers: tuple[tuple[str, str], ...]
    given: str
    family: str
    birth_date: date
    gender: str
    created_at: datetime


def find_patient_by_identifier(session: Session, cipher: FieldCipher, system: str, value: str) -> str | None:
    """The patient holding this identifier, found through its blind index (the value itself is encrypted)."""
    return session.scalar(
        sa.select(PatientIdentifier.patient_id).where(
            PatientIdentifier.system == system, PatientIdentifier.value_index == cipher.blind_index(system, value)
        )
    )


def register_patient(
    session: Session, cipher: FieldCipher, patient_id: str, system: str, value: str, given: str, family: str,
    birth_date: date, gender: str,
) -> tuple[str, bool]:
    """Find the patient by identifier, else create them with ``patient_id``; returns (id, created).

    Demographics and the identifier value are stored encrypted under the patient's data
    key; a person whose earlier record was erased is registered under a successor id.
    """
    existing = find_patient_by_identifier(session, cipher, system, value)
    if existing:
        return existing, False
    patient_id = unerased_id(session, cipher, patient_id)
    key = cipher.data_key(session, patient_id, create=True)
    plain = dict(zip(_DEMOGRAPHICS, (given, family, birth_date.isoformat(), gender), strict=True))
    inserted = session.execute(
        insert(Patient)
        .values(id=patient_id, **{c: cipher.encrypt(key, PATIENTS, c, patient_id, v) for c, v in plain.items()})
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Patient.id)
    ).scalar()
    index = cipher.blind_index(system, value)
    session.execute(
        insert(PatientIdentifier)
        .values(patient_id=patient_id, system=system, value_index=index,
                value=cipher.encrypt(key, IDENTIFIERS, "value", index.hex(), value))
        .on_conflict_do_nothing(constraint="uq_patient_identifiers_system_value_index")
    )
    owner = find_patient_by_identifier(session, cipher, system, value)
    return owner or patient_id, inserted is not None and owner == patient_id


def unerased_id(session: Session, cipher: FieldCipher, patient_id: str) -> str:
    """``patient_id``, or its successor when the record under that id was erased (the person came back)."""
    for _ in range(16):
        stored = dek_store.stored_key(session, patient_id)
        if stored is None or stored.shredded_at is None:
            return patient_id
        patient_id = cipher.successor_id(patient_id)
    raise StorageConflict("no free patient id after repeated erasures")


def read_patient(session: Session, cipher: FieldCipher, patient_id: str) -> PatientRecord | None:
    """The patient's decrypted demographics; None if unknown, ``DataErased`` if their key was shredded."""
    p = session.get(Patient, patient_id)
    if p is None:
        return None
    key = cipher.data_key(session, patient_id)
    f = {c: cipher.decrypt(key, PATIENTS, c, p.id, getattr(p, c)) for c in _DEMOGRAPHICS}
    idents = tuple((i.system, cipher.decrypt(key, IDENTIFIERS, "value", bytes(i.value_index).hex(), i.value))
                   for i in sorted(p.identifiers, key=lambda i: i.id))
    return PatientRecord(id=p.id, identifiers=idents, given=f["given"], family=f["family"],
                         birth_date=date.fromisoformat(f["birth_date"]), gender=f["gender"], created_at=p.created_at)


def record_consent(session: Session, consent_id: str, patient_id: str, purpose: str, granted: bool, by: str) -> None:
    session.execute(
        insert(Consent)
        .values(id=consent_id, patient_id=patient_id, purpose=purpose,
                status="active" if granted else "rejected", recorded_by=by)
        .on_conflict_do_nothing(index_elements=["id"])
    )


def create_encounter(session: Session, encounter_id: str, patient_id: str, journey_id: str, ward: str, reason: str,
                     cipher: FieldCipher | None = None) -> None:
    """Create the planned stay, its reason encrypted under the patient's data key; a second active stay is refused.

    ``cipher`` None uses the process's ephemeral keys (tests only; the activities pass theirs).
    """
    if session.get(Ward, ward) is None:
        raise StorageConflict(f"unknown ward {ward!r}")
    if session.get(Encounter, encounter_id) is not None:
        return
    other = session.scalar(
        sa.select(Encounter.id).where(
            Encounter.patient_id == patient_id, Encounter.status.in_(ACTIVE_ENCOUNTER_STATES)
        )
    )
    if other:
        raise StorageConflict("the patient already has an active encounter")
    cipher = cipher or ephemeral_cipher()
    key = cipher.data_key(session, patient_id, create=True)
    session.add(Encounter(id=encounter_id, patient_id=patient_id, journey_id=journey_id, status="planned",
                          encounter_class="IMP", ward_id=ward,
                          reason=cipher.encrypt(key, ENCOUNTERS, "reason", encounter_id, reason)))
    session.flush()


def encounter_reason(session: Session, cipher: FieldCipher, enc: Encounter) -> str:
    """The stay's reason in the clear; ``DataErased`` once the patient's data key was shredded."""
    return cipher.decrypt(cipher.data_key(session, enc.patient_id), ENCOUNTERS, "reason", enc.id, enc.reason)


def encounter_reasons(session: Session, cipher: FieldCipher, encounters: list[Encounter]) -> dict[str, str]:
    """The reasons of many stays (one key query); stays of erased patients (or without a key) are left out."""
    keys = sealed.keys_for(session, cipher, (e.patient_id for e in encounters))
    return {e.id: cipher.decrypt(k, ENCOUNTERS, "reason", e.id, e.reason)
            for e in encounters if not isinstance(k := keys[e.patient_id], Exception)}


def assign_care_team(session: Session, encounter_id: str, ward: str, attending: str | None) -> tuple[str, str]:
    """Set the attending and their care team: the requested attending, else the ward's first team."""
    enc = _encounter(session, encounter_id)
    if enc.attending_id and enc.care_team_id:
        return enc.attending_id, enc.care_team_id
    if attending:
        user = session.get(User, attending)
        if user is None or user.role != "attending_physician" or not user.active:
            raise StorageConflict(f"{attending!r} is not an active attending physician")
        team = session.scalar(
            sa.select(CareTeamMember.care_team_id).where(CareTeamMember.user_id == attending)
            .order_by(CareTeamMember.care_team_id)
        )
    else:
        row = session.execute(
            sa.select(CareTeam.id, User.id)
            .join(CareTeamMember, CareTeamMember.care_team_id == CareTeam.id)
            .join(User, User.id == CareTeamMember.user_id)
            .where(CareTeam.wards.any(ward), User.role == "attending_physician", User.active)
            .order_by(CareTeam.id, User.id)
        ).first()
        if row is None:
            raise StorageConflict(f"ward {ward!r} has no care team with an attending physician")
        team, attending = row
    if team is None:
        raise StorageConflict(f"{attending!r} is on no care team")
    enc.attending_id, enc.care_team_id = attending, team
    return attending, team


def assign_bed(session: Session, encounter_id: str, ward: str, bed_id: str | None = None) -> str | None:
    """Give the encounter a free bed of the ward (a given one if named); None when all are taken."""
    held = session.scalar(sa.select(Bed.id).where(Bed.encounter_id == encounter_id))
    if held:
        return held
    query = sa.select(Bed).where(Bed.ward_id == ward, Bed.encounter_id.is_(None))
    if bed_id:
        query = query.where(Bed.id == bed_id)
    bed = session.scalar(query.order_by(Bed.label).limit(1).with_for_update(skip_locked=True))
    if bed is None:
        return None
    bed.encounter_id = encounter_id
    session.flush()
    return bed.id


def set_encounter_status(session: Session, encounter_id: str, status: str, at: datetime) -> None:
    enc = _encounter(session, encounter_id)
    if enc.status == status:
        return
    enc.status = status
    if status == "in-progress" and enc.admitted_at is None:
        enc.admitted_at = at
    if status in ("finished", "cancelled"):
        enc.ended_at = at
        session.execute(sa.update(Bed).where(Bed.encounter_id == encounter_id).values(encounter_id=None))


def _encounter(session: Session, encounter_id: str) -> Encounter:
    enc = session.get(Encounter, encounter_id)
    if enc is None:
        raise NotFound(f"encounter {encounter_id} not found")
    return enc


@dataclass(frozen=True)
class PatientContext:
    """What the policy needs to know about a patient: where they are and who cares for them."""

    patient_id: str
    ward: str | None
    care_teams: tuple[str, ...]
    attending: str | None
    encounter_id: str | None
    inpatient: bool


def patient_context(session: Session, patient_id: str) -> PatientContext | None:
    if session.get(Patient, patient_id) is None:
        return None
    enc = current_encounter(session, patient_id)
    return PatientContext(
        patient_id=patient_id,
        ward=enc.ward_id if enc else None,
        care_teams=(enc.care_team_id,) if enc and enc.care_team_id else (),
        attending=enc.attending_id if enc else None,
        encounter_id=enc.id if enc else None,
        inpatient=bool(enc and enc.status in ACTIVE_ENCOUNTER_STATES),
    )


#: Which of a patient's stays is "current": the active one, else the most recent.
CURRENT_STAY_FIRST = (Encounter.status.in_(ACTIVE_ENCOUNTER_STATES).desc(), Encounter.created_at.desc())


def current_encounter(session: Session, patient_id: str) -> Encounter | None:
    """The active stay, else the most recent one."""
    return session.scalar(
        sa.select(Encounter).where(Encounter.patient_id == patient_id).order_by(*CURRENT_STAY_FIRST).limit(1)
    )


def user_attributes(session: Session, user_id: str) -> tuple[User, list[str]] | None:
    user = session.get(User, user_id)
    if user is None:
        return None
    teams = session.scalars(
        sa.select(CareTeamMember.care_team_id).where(CareTeamMember.user_id == user_id).order_by(CareTeamMember.care_team_id)
    ).all()
    return user, list(teams)


def ward_ids(session: Session) -> list[str]:
    return list(session.scalars(sa.select(Ward.id).order_by(Ward.id)))


def active_encounter(session: Session, patient_id: str) -> Encounter | None:
    return session.scalar(
        sa.select(Encounter).where(Encounter.patient_id == patient_id, Encounter.status.in_(ACTIVE_ENCOUNTER_STATES))
    )


def encounter_by_journey(session: Session, journey_id: str) -> Encounter | None:
    return session.scalar(sa.select(Encounter).where(Encounter.journey_id == journey_id))


def bed_of(session: Session, encounter_id: str) -> str | None:
    return session.scalar(sa.select(Bed.id).where(Bed.encounter_id == encounter_id))


def get_patient(session: Session, patient_id: str) -> Patient | None:
    """The stored row (fields still encrypted): for existence checks; ``read_patient`` decrypts."""
    return session.get(Patient, patient_id)


def hourly_arrivals(session: Session, ward: str, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """Encounters opened on a ward per hour (zero hours omitted): the forecast's recent history."""
    hour = sa.func.date_trunc("hour", Encounter.created_at).label("hour")
    rows = session.execute(
        sa.select(hour, sa.func.count()).where(Encounter.ward_id == ward, Encounter.created_at >= since,
                                               Encounter.created_at < until)
        .group_by(hour).order_by(hour)
    ).all()
    return [(h, int(n)) for h, n in rows]

"""The demo hospital of DESIGN.md, seeded on first start (idempotent)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.formulary.seed import seed_formulary_stock
from activities.storage import consent_repo
from activities.storage import repository as repo
from activities.storage.db import make_engine, make_session_factory
from activities.storage.identity import patient_id_for
from activities.storage.models import Bed, CareTeam, CareTeamMember, User, Ward
from deploy import wiring
from deploy.settings import Settings

WARDS: dict[str, tuple[str, int]] = {
    "emergency": ("Emergency department", 10),
    "medical": ("Medical ward", 12),
    "surgical": ("Surgical ward", 8),
    "icu": ("Intensive care unit", 4),
    "psychiatry": ("Psychiatry ward", 6),
}


@dataclass(frozen=True)
class DemoUser:
    id: str
    role: str
    name: str
    wards: tuple[str, ...] = ()
    #: For the ``patient`` role: the identifier (MRN) of the patient record the user is.
    patient_identifier: str | None = None


@dataclass(frozen=True)
class DemoPatient:
    value: str
    given: str
    family: str
    birth_date: date
    gender: str


#: The seeded demo patient (registered, not admitted) whom the ``patient-1`` user is.
DEMO_PATIENT_SYSTEM = "urn:hms:mrn"
DEMO_PATIENT = DemoPatient("DEMO-PATIENT-1", "Asha", "Demo", date(1985, 4, 12), "female")


#: In role order; ``hms token --role R`` picks the first user with role R.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("registration-1", "registration_clerk", "Registration desk 1"),
    DemoUser("triage-nurse-1", "triage_nurse", "Triage nurse 1", ("emergency",)),
    DemoUser("nurse-medical-1", "nurse", "Medical ward nurse 1", ("medical", "surgical")),
    DemoUser("nurse-psychiatry-1", "nurse", "Psychiatry ward nurse 1", ("psychiatry",)),
    DemoUser("attending-1", "attending_physician", "Attending physician 1", ("emergency", "medical", "surgical")),
    DemoUser("attending-2", "attending_physician", "Attending physician 2", ("icu", "psychiatry")),
    DemoUser("radiologist-1", "radiologist", "Radiologist 1"),
    DemoUser("radiologist-2", "radiologist", "Radiologist 2"),
    DemoUser("pharmacist-1", "pharmacist", "Pharmacist 1"),
    DemoUser("billing-1", "billing_clerk", "Billing clerk 1"),
    DemoUser("manager-1", "manager", "Operations manager 1"),
    DemoUser("compliance-1", "compliance_officer", "Compliance officer 1"),
    DemoUser("admin-1", "admin", "Administrator 1"),
    DemoUser("patient-1", "patient", "Demo patient 1", patient_identifier=DEMO_PATIENT.value),
)

#: attending-1 and attending-2 are deliberately on different care teams.
CARE_TEAMS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "team-a": ("Care team A", ("emergency", "medical", "surgical"),
               ("attending-1", "triage-nurse-1", "nurse-medical-1")),
    "team-b": ("Care team B", ("icu", "psychiatry"), ("attending-2", "nurse-psychiatry-1")),
}


def demo_user(user: str | None = None, role: str | None = None) -> DemoUser:
    for u in DEMO_USERS:
        if (user and u.id == user) or (role and u.role == role):
            return u
    raise LookupError(f"no demo user {'named ' + user if user else 'with role ' + str(role)}")


def patient_id_of(settings: Settings, user: DemoUser) -> str | None:
    """The patient record a ``patient`` demo user is (the keyed id their identifier registers under)."""
    if user.patient_identifier is None:
        return None
    return patient_id_for(wiring.index_key(settings), DEMO_PATIENT_SYSTEM, user.patient_identifier)


def demo_patient_id(settings: Settings) -> str:
    """The id of the seeded demo patient of this stack."""
    pid = patient_id_of(settings, demo_user(user="patient-1"))
    assert pid is not None
    return pid


def _seed_demo_patient(settings: Settings, session: Session) -> int:
    """Register the demo patient (encrypted like any patient) with consent to treatment, if missing."""
    cipher = wiring.field_cipher(settings)
    d = DEMO_PATIENT
    patient_id, created = repo.register_patient(session, cipher, demo_patient_id(settings), DEMO_PATIENT_SYSTEM,
                                                d.value, d.given, d.family, d.birth_date, d.gender)
    if created:
        consent_repo.record(session, consent_id=f"consent-seed-{uuid.uuid5(uuid.NAMESPACE_URL, patient_id)}",
                            patient_id=patient_id, purpose="TREAT", status=consent_repo.ACTIVE, by="registration-1")
    return int(created)


def _inserted(session: Session, stmt: Any) -> int:
    return len(session.execute(stmt).all())


def seed_demo(settings: Settings, database_url: str | None = None) -> bool:
    """Insert the demo wards, beds, users, care teams and patient that are missing; True if any were added."""
    engine = make_engine(database_url or settings.resolved_database_url(), pool_size=1)
    sessions = make_session_factory(engine)
    added = 0
    with sessions() as s, s.begin():
        for ward_id, (name, beds) in WARDS.items():
            added += _inserted(s, insert(Ward).values(id=ward_id, name=name).on_conflict_do_nothing()
                              .returning(Ward.id))
            for n in range(1, beds + 1):
                s.execute(insert(Bed).values(id=f"{ward_id}-{n:02d}", ward_id=ward_id, label=f"{n:02d}")
                          .on_conflict_do_nothing())
        for u in DEMO_USERS:
            added += _inserted(s, insert(User).values(id=u.id, role=u.role, display_name=u.name, wards=list(u.wards),
                                                      active=True).on_conflict_do_nothing().returning(User.id))
        for team_id, (name, wards, members) in CARE_TEAMS.items():
            s.execute(insert(CareTeam).values(id=team_id, name=name, wards=list(wards)).on_conflict_do_nothing())
            for m in members:
                s.execute(insert(CareTeamMember).values(care_team_id=team_id, user_id=m).on_conflict_do_nothing())
        seed_formulary_stock(s)  # the pharmacy's initial stock, per formulary drug
        added += _seed_demo_patient(settings, s)
    engine.dispose()
    return added > 0

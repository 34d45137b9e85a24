"""The demo hospital of DESIGN.md, seeded on first start (idempotent)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.formulary.seed import seed_formulary_stock
from activities.storage.db import make_engine, make_session_factory
from activities.storage.models import Bed, CareTeam, CareTeamMember, User, Ward
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


def _inserted(session: Session, stmt: Any) -> int:
    return len(session.execute(stmt).all())


def seed_demo(settings: Settings, database_url: str | None = None) -> bool:
    """Insert the demo wards, beds, users and care teams that are missing; True if any were added."""
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
    engine.dispose()
    return added > 0

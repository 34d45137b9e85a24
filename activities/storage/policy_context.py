"""Everything the policy needs about one patient, in one round trip to the database.

Every request that touches a patient's data asks the same three questions before the policy
decides: is the patient registered, where is their current stay (ward, care team, attending,
inpatient or not), and what is their consent per purpose of use. Asked separately that was three
queries in up to two sessions; here it is one statement (two lateral joins), so the price of
authorisation does not grow with the number of facts the policy reads.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.storage.consent_repo import PURPOSES
from activities.storage.models import ACTIVE_ENCOUNTER_STATES, Consent, Encounter, Patient
from activities.storage.repository import CURRENT_STAY_FIRST, PatientContext


def _statement() -> sa.Select:
    current = (
        sa.select(Encounter.id, Encounter.ward_id, Encounter.care_team_id, Encounter.attending_id, Encounter.status)
        .where(Encounter.patient_id == Patient.id)
        .order_by(*CURRENT_STAY_FIRST)
        .limit(1)
        .lateral("current_stay")
    )
    consent = (
        sa.select(Consent.purpose, Consent.status)
        .where(Consent.patient_id == Patient.id)
        .distinct(Consent.purpose)
        .order_by(Consent.purpose, Consent.recorded_at.desc(), Consent.id.desc())
        .lateral("consent_now")
    )
    return (
        sa.select(Patient.id, current.c.id.label("encounter_id"), current.c.ward_id, current.c.care_team_id,
                  current.c.attending_id, current.c.status, consent.c.purpose, consent.c.status.label("consent"))
        .select_from(Patient)
        .outerjoin(current, sa.true())
        .outerjoin(consent, sa.true())
        .where(Patient.id == sa.bindparam("patient_id"))
    )


#: Built once: composing the statement costs more than running it.
_POLICY_CONTEXT = _statement()


def policy_context(session: Session | sa.Connection, patient_id: str) -> tuple[PatientContext, dict[str, str | None]] | None:
    """(stay context, consent status per purpose) of a registered patient; None for an unknown id.

    Same answers as ``repository.patient_context`` and ``consent_repo.consent_state`` together.
    """
    rows = session.execute(_POLICY_CONTEXT, {"patient_id": patient_id}).all()
    if not rows:
        return None
    first = rows[0]
    context = PatientContext(
        patient_id=patient_id,
        ward=first.ward_id,
        care_teams=(first.care_team_id,) if first.care_team_id else (),
        attending=first.attending_id,
        encounter_id=first.encounter_id,
        inpatient=first.status in ACTIVE_ENCOUNTER_STATES,
    )
    consent: dict[str, str | None] = dict.fromkeys(PURPOSES)
    consent.update({row.purpose: row.consent for row in rows if row.purpose is not None})
    return context, consent

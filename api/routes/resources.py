"""Policy-input descriptions of the resources the routes touch."""
from __future__ import annotations

from typing import Any

from activities.storage import repository as repo
from activities.storage.consent_repo import PURPOSES
from activities.storage.policy_context import policy_context
from activities.storage.repository import PatientContext
from api.services import ApiServices


def patient_exists(services: ApiServices, patient_id: str) -> bool:
    """Whether the patient is registered (an over-long id is not looked up)."""
    if len(patient_id) > 36:
        return False
    with services.sessions() as s:
        return repo.get_patient(s, patient_id) is not None


def patient_resource(services: ApiServices, rtype: str, patient_id: str, resource_id: str | None = None, *,
                     default_ward: str | None = None, **extra: Any) -> dict[str, Any]:
    """Ward, care team and attending of the patient's current stay, and the patient's consent per purpose.

    ``consent`` maps each purpose of use to its current status (``active``, ``withdrawn``,
    ``rejected`` or ``None`` when nothing is recorded); the policy refuses processing for
    a withdrawn purpose, so the state is read fresh on every request. An unknown patient
    gets a resource with no stay and no consent (the policy decides on what is there).
    """
    found = known_patient_resource(services, rtype, patient_id, resource_id, default_ward=default_ward, **extra)
    if found is not None:
        return found
    return _resource(rtype, patient_id, resource_id, None, dict.fromkeys(PURPOSES), default_ward, extra)


def known_patient_resource(services: ApiServices, rtype: str, patient_id: str, resource_id: str | None = None, *,
                           default_ward: str | None = None, **extra: Any) -> dict[str, Any] | None:
    """``patient_resource`` of a registered patient, None for an unknown id: one query answers both."""
    if len(patient_id) > 36:
        return None
    with services.read_connection() as c:  # one statement: no transaction needed around it
        found = policy_context(c, patient_id)
    if found is None:
        return None
    return patient_resource_of(rtype, patient_id, found, resource_id, default_ward=default_ward, **extra)


def patient_resource_of(rtype: str, patient_id: str, found: tuple[PatientContext, dict[str, str | None]],
                        resource_id: str | None = None, *, default_ward: str | None = None,
                        **extra: Any) -> dict[str, Any]:
    """``patient_resource`` from an answer of ``policy_context`` the caller already has."""
    ctx, consent = found
    return _resource(rtype, patient_id, resource_id, ctx, consent, default_ward, extra)


def _resource(rtype: str, patient_id: str, resource_id: str | None, ctx: PatientContext | None,
              consent: dict[str, str | None], default_ward: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {"type": rtype, "id": resource_id or patient_id, "patient_id": patient_id,
                                "ward": default_ward, "care_teams": [], "attending": None, "security": [],
                                "inpatient": False, "consent": consent}
    if ctx is not None:
        resource.update(ward=ctx.ward or default_ward, care_teams=list(ctx.care_teams), attending=ctx.attending,
                        inpatient=ctx.inpatient)
    resource.update(extra)
    return resource

"""The spine of every request that touches patient data: decide, record, then act.

The policy decides; the decision (allowed or denied) is appended to the ledger
before any data leaves or changes; a denied request gets 403 with the reason.
If either the policy engine or the ledger cannot answer, the request fails
closed (403 or 503) and nothing is read or written.

Break-glass: when the ordinary decision refuses a clinical role access to one
patient's data and the caller holds an active grant for that patient, the policy
decides again with the grant and the purpose ETREAT (emergency treatment, which a
withdrawn consent does not stop); an access it allows is flagged in the ledger with
that purpose.
"""
from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage import security_repo
from api.auth import Principal
from api.services import ApiServices, Subject
from ledger.model import AuditEvent
from policies.engine import UNAVAILABLE, Decision

T = TypeVar("T")

#: HL7 v3 PurposeOfUse by role, carried into the policy input and the ledger.
PURPOSE_BY_ROLE = {
    "billing_clerk": "HPAYMT",
    "manager": "HOPERAT",
    "registration_clerk": "HOPERAT",
    "compliance_officer": "HCOMPL",
    "admin": "HSYSADMIN",
    "patient": "PATRQT",
}

#: The purpose of use of every access under a break-glass grant: emergency treatment.
EMERGENCY_PURPOSE = "ETREAT"

#: FHIR AuditEvent action codes by policy action.
AUDIT_ACTION = {"create": "C", "read": "R", "update": "U", "delete": "D", "complete": "U", "list": "E", "search": "E"}


@dataclass(frozen=True)
class Granted:
    subject: Subject
    reason: str
    event_id: str


async def authorize(
    services: ApiServices,
    principal: Principal,
    *,
    action: str,
    resource: dict[str, Any],
    subtype: str,
    purpose: str | None = None,
) -> Granted:
    """Decide and record one access; raise 403 when denied, 503 when it cannot be recorded."""
    decision, event, subject = await _decision(services, principal, action, resource, subtype, purpose)
    return await _granted(services, decision, subject, [event])


async def authorize_alike(
    services: ApiServices,
    principal: Principal,
    *,
    action: str,
    resource: dict[str, Any],
    subtype: str,
    resource_ids: list[str],
    purpose: str | None = None,
) -> Granted:
    """``authorize`` once for resources alike but for their ids (same type, patient, labels), with one
    ledger entry per resource appended together: every write of a batch is on the audit trail."""
    if not resource_ids:
        raise ValueError("resource_ids must name at least one resource")
    decision, event, subject = await _decision(services, principal, action, {**resource, "id": resource_ids[0]},
                                               subtype, purpose)
    events = [event] + [dataclasses.replace(event, event_id=uuid.uuid4().hex, resource_id=rid)
                        for rid in resource_ids[1:]]
    return await _granted(services, decision, subject, events)


async def _granted(services: ApiServices, decision: Decision, subject: Subject, events: list[AuditEvent]) -> Granted:
    """Record the decision's ledger entries, then answer 403 for a refusal or the grant."""
    await _record(services, *events)
    if not decision.allow:
        raise HTTPException(403, decision.reason)
    return Granted(subject=subject, reason=decision.reason, event_id=events[0].event_id)


async def authorized_read(
    services: ApiServices,
    principal: Principal,
    read: Callable[[], T],
    *,
    action: str,
    resource: dict[str, Any],
    subtype: str,
    purpose: str | None = None,
    in_memory: bool = False,
) -> T:
    """``authorize`` then ``read()`` (a blocking call), with the ledger append and the read overlapped.

    Once the policy has allowed the access, recording it and fetching the data are independent, so
    they run side by side; the data is returned only after the ledger entry is committed, and is
    discarded (503) when it could not be. A denied access is recorded and never read.
    ``in_memory``: ``read()`` only decodes what the caller already fetched (no I/O, microseconds), so it
    runs on the event loop once the entry is committed rather than in a thread beside the append.
    """
    decision, event, _ = await _decision(services, principal, action, resource, subtype, purpose)
    if not decision.allow:
        await _record(services, event)
        raise HTTPException(403, decision.reason)
    if in_memory:
        await _record(services, event)
        return read()
    recorded, result = await asyncio.gather(_record(services, event), run_in_threadpool(read),
                                            return_exceptions=True)
    if isinstance(recorded, BaseException):
        raise recorded
    if isinstance(result, BaseException):
        raise result
    return result


async def _decision(services: ApiServices, principal: Principal, action: str, resource: dict[str, Any],
                    subtype: str, purpose: str | None) -> tuple[Decision, AuditEvent, Subject]:
    """The policy's decision (again under an active break-glass grant when refused) and its ledger event."""
    subject = services.directory.cached(principal) or await run_in_threadpool(services.directory.subject, principal)
    purpose = purpose or PURPOSE_BY_ROLE.get(subject.role, "TREAT")
    now = datetime.now(UTC)
    context: dict[str, Any] = {"purpose": purpose, "now": now.isoformat().replace("+00:00", "Z"),
                               "break_glass": None}
    policy_input = {"subject": subject.as_input(), "action": action, "resource": resource, "context": context}
    decision = await _decide(services, policy_input)
    break_glass = False
    patient_id = resource.get("patient_id")
    if not decision.allow and isinstance(patient_id, str) and subject.role in CLINICAL_ROLES:
        grant = await run_in_threadpool(_active_grant, services, subject.id, patient_id, now)
        if grant is not None:
            # Access under a grant is emergency treatment (ETREAT), also where consent was withdrawn.
            context.update(break_glass=grant, purpose=EMERGENCY_PURPOSE)
            emergency = await _decide(services, policy_input)
            if emergency.allow:
                decision, break_glass, purpose = emergency, True, EMERGENCY_PURPOSE
    event = AuditEvent(
        event_id=uuid.uuid4().hex,
        recorded=now,
        actor=subject.id,
        role=subject.role,
        action=AUDIT_ACTION.get(action, "E"),
        subtype=subtype,
        outcome="0" if decision.allow else "4",
        resource_type=str(resource.get("type")),
        resource_id=_str_or_none(resource.get("id")),
        patient_id=_str_or_none(resource.get("patient_id")),
        purpose=purpose,
        decision="allow" if decision.allow else "deny",
        reason=decision.reason,
        source="api",
        break_glass=break_glass,
    )
    return decision, event, subject


async def _record(services: ApiServices, *events: AuditEvent) -> None:
    """Append the entries (together when several); 503 when the ledger cannot take them."""
    try:
        if len(events) == 1:
            await run_in_threadpool(services.ledger.append, events[0])
        else:
            await run_in_threadpool(services.ledger.append_many, list(events))
    except Exception as exc:  # the ledger is down: no unaudited access
        raise HTTPException(503, "the audit ledger is unavailable; the request was not performed") from exc


async def _decide(services: ApiServices, policy_input: dict[str, Any]) -> Decision:
    """The policy's decision; an engine that fails (rather than answering) is a denial, never an allow."""
    peek = getattr(services.policy, "peek", None)
    if peek is not None:  # a cached decision costs microseconds: no trip to the thread pool
        cached = peek(policy_input)
        if cached is not None:
            return cached
    try:
        return await run_in_threadpool(services.policy.decide, policy_input)
    except Exception as exc:  # the contract says engines never raise; fail closed if one does
        return Decision(False, f"{UNAVAILABLE}{type(exc).__name__}", "unknown")


#: Roles that may hold a break-glass grant (the policy checks again; this only skips a lookup).
CLINICAL_ROLES = frozenset({"triage_nurse", "nurse", "attending_physician", "radiologist", "pharmacist"})


def _active_grant(services: ApiServices, user_id: str, patient_id: str, now: datetime) -> dict[str, Any] | None:
    with services.sessions() as s:
        grant = security_repo.active_grant(s, user_id, patient_id, now)
    if grant is None:
        return None
    return {"grant_id": grant.grant_id, "patient_id": grant.patient_id,
            "expires_at": grant.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)

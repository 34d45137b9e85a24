"""The spine of every request that touches patient data: decide, record, then act.

The policy decides; the decision (allowed or denied) is appended to the ledger
before any data leaves or changes; a denied request gets 403 with the reason.
If either the policy engine or the ledger cannot answer, the request fails
closed (403 or 503) and nothing is read or written.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.services import ApiServices, Subject
from ledger.model import AuditEvent

#: HL7 v3 PurposeOfUse by role, carried into the policy input and the ledger.
PURPOSE_BY_ROLE = {
    "billing_clerk": "HPAYMT",
    "manager": "HOPERAT",
    "registration_clerk": "HOPERAT",
    "compliance_officer": "HCOMPL",
    "admin": "HSYSADMIN",
    "patient": "PATRQT",
}

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
    subject = await run_in_threadpool(services.directory.subject, principal)
    purpose = purpose or PURPOSE_BY_ROLE.get(subject.role, "TREAT")
    now = datetime.now(UTC)
    policy_input = {
        "subject": subject.as_input(),
        "action": action,
        "resource": resource,
        "context": {"purpose": purpose, "now": now.isoformat().replace("+00:00", "Z"), "break_glass": None},
    }
    decision = await run_in_threadpool(services.policy.decide, policy_input)
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
    )
    try:
        await run_in_threadpool(services.ledger.append, event)
    except Exception as exc:  # the ledger is down: no unaudited access
        raise HTTPException(503, "the audit ledger is unavailable; the request was not performed") from exc
    if not decision.allow:
        raise HTTPException(403, decision.reason)
    return Granted(subject=subject, reason=decision.reason, event_id=event.event_id)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)

"""FHIR R4 ``AuditEvent`` read and search over the audit ledger, for compliance officers.

Each ledger entry is one AuditEvent whose id is its ledger index; resources are built and validated
with ``fhir.resources.R4B`` (wire-compatible with R4). Errors are ``OperationOutcome`` resources.
Kept self-contained so the FHIR facade can absorb it as one more resource type.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from starlette.concurrency import run_in_threadpool

from api.access import authorize
from api.deps import Services, _bearer, get_principal
from ledger.base import LedgerError
from ledger.model import ACTIONS, LedgerEntry, format_ts

router = APIRouter(prefix="/fhir/r4/AuditEvent", tags=["fhir"])
FHIR_JSON = "application/fhir+json"
PARAMS = {"patient", "agent", "action", "date", "_count", "_offset", "_format"}
_ISSUE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 503: "transient"}
_UTC_MAX = timedelta(microseconds=1)


def _outcome(status: int, message: str) -> Response:
    issue = {"severity": "error", "code": _ISSUE.get(status, "exception"), "diagnostics": message}
    body = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [issue]})
    return Response(body.model_dump_json(), status_code=status, media_type=FHIR_JSON)


def to_fhir(entry: LedgerEntry) -> dict[str, Any]:
    """The ledger entry as a FHIR R4 AuditEvent (identifiers only, as the ledger holds)."""
    e = entry.event
    details = [{"type": "decision", "valueString": e.decision}, {"type": "policy-reason", "valueString": e.reason}]
    if e.detail_hash:
        details.append({"type": "detail-hash", "valueString": e.detail_hash})
    entities: list[dict[str, Any]] = []
    if e.patient_id:
        entities.append({"what": {"reference": f"Patient/{e.patient_id}"},
                         "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
                         "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"}})
    what = {"identifier": {"system": f"urn:hms:{e.resource_type}", "value": e.resource_id}} if e.resource_id \
        else {"display": e.resource_type}
    entities.append({"what": what, "name": e.resource_type, "detail": details,
                     "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"}})
    purpose = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": e.purpose}]}] \
        if e.purpose else []
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent", "id": str(entry.index),
        "extension": [{"url": "urn:hms:audit:leaf-hash", "valueString": entry.leaf_hash.hex()},
                      {"url": "urn:hms:audit:event-id", "valueString": e.event_id}],
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "subtype": [{"system": "urn:hms:audit-subtype", "code": e.subtype}],
        "action": e.action, "recorded": format_ts(e.recorded), "outcome": e.outcome, "outcomeDesc": e.reason,
        "agent": [{"type": {"coding": [{"system": "urn:hms:role", "code": e.role}]},
                   "who": {"identifier": {"system": "urn:hms:user", "value": e.actor}}, "requestor": True,
                   **({"purposeOfUse": purpose} if purpose else {})}],
        "source": {"site": e.source, "observer": {"display": f"HMS {e.source}"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
        "entity": entities,
    }
    if purpose:
        resource["purposeOfEvent"] = purpose
    if e.break_glass:
        resource["meta"] = {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                          "code": "BTG", "display": "break the glass"}]}
    return FhirAuditEvent.model_validate(resource).model_dump(mode="json", exclude_none=True)


def _date_bounds(values: list[str]) -> tuple[datetime | None, datetime | None]:
    """FHIR ``date`` search (ge/gt/le/lt/eq on a date or an instant) as [since, until)."""
    since = until = None
    for raw in values:
        prefix, value = (raw[:2], raw[2:]) if raw[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", raw)
        try:
            if len(value) == 10:
                start = datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)  # a day is a UTC day
                end = start + timedelta(days=1)
            else:
                start = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if start.tzinfo is None:
                    raise ValueError("no time zone")
                end = start + _UTC_MAX
        except ValueError:
            raise HTTPException(400, f"date: {raw!r} is not a FHIR date or instant with a time zone") from None
        lower = {"ge": start, "gt": end, "eq": start}.get(prefix)
        upper = {"lt": start, "le": end, "eq": end}.get(prefix)
        since = lower if lower is not None and (since is None or lower > since) else since
        until = upper if upper is not None and (until is None or upper < until) else until
    return since, until


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{name}: not an integer: {value!r}") from None
    if not low <= number <= high:
        raise HTTPException(400, f"{name}: must be between {low} and {high}")
    return number


def _search(services: Any, request: Request) -> dict[str, Any]:
    q = request.query_params
    unknown = sorted(set(q.keys()) - PARAMS)
    if unknown:
        raise HTTPException(400, f"unsupported search parameter(s): {', '.join(unknown)}")
    action = q.get("action")
    if action is not None and action not in ACTIONS:
        raise HTTPException(400, f"action: must be one of {', '.join(sorted(ACTIONS))}")
    since, until = _date_bounds(q.getlist("date"))
    count, offset = _int(q.get("_count"), "_count", 50, 1, 1000), _int(q.get("_offset"), "_offset", 0, 0, 10**9)
    patient = (q.get("patient") or "").removeprefix("Patient/") or None
    agent = (q.get("agent") or "").rsplit("/", 1)[-1] or None
    return {"patient_id": patient, "actor": agent, "action": action, "since": since, "until": until,
            "limit": count, "offset": offset}


def _bundle(request: Request, entries: list[LedgerEntry], filters: dict[str, Any]) -> str:
    base = str(request.base_url).rstrip("/") + "/fhir/r4/AuditEvent"
    links = [{"relation": "self", "url": str(request.url)}]
    if len(entries) == filters["limit"]:
        nxt = request.url.include_query_params(_offset=filters["offset"] + filters["limit"])
        links.append({"relation": "next", "url": str(nxt)})
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links,
              "entry": [{"fullUrl": f"{base}/{e.index}", "resource": to_fhir(e), "search": {"mode": "match"}}
                        for e in entries]}
    return Bundle.model_validate(bundle).model_dump_json(exclude_none=True)


async def _guarded(request: Request, services: Any, action: str, patient: str | None) -> None:
    """Authenticate (401 as an OperationOutcome too), then decide and record the access."""
    credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
    user = await get_principal(services, credentials)
    await authorize(services, user, action=action, subtype=f"audit.fhir.{action}",
                    resource={"type": "AuditLog", "id": "ledger", "patient_id": patient})


@router.get("")
async def search_audit_events(request: Request, services: Services) -> Response:
    """``GET /fhir/r4/AuditEvent?patient=&agent=&action=&date=&_count=``: a searchset Bundle."""
    try:
        await get_principal(services, await _bearer(request))  # 401 before any parameter is looked at
        filters = _search(services, request)
        await _guarded(request, services, "search", filters["patient_id"])
        entries = await run_in_threadpool(lambda: services.ledger.query(**filters))
        body = await run_in_threadpool(_bundle, request, entries, filters)
    except HTTPException as exc:
        return _outcome(exc.status_code, str(exc.detail))
    return Response(body, media_type=FHIR_JSON)


@router.get("/{index}")
async def read_audit_event(index: str, request: Request, services: Services) -> Response:
    """``GET /fhir/r4/AuditEvent/{index}``: one ledger entry as an AuditEvent."""
    try:
        await _guarded(request, services, "read", None)
        if not index.isdigit():
            raise HTTPException(404, f"AuditEvent/{index} not found")
        try:
            entry = await run_in_threadpool(services.ledger.get, int(index))
        except LedgerError:
            raise HTTPException(404, f"AuditEvent/{index} not found") from None
        body = FhirAuditEvent.model_validate(to_fhir(entry)).model_dump_json(exclude_none=True)
    except HTTPException as exc:
        return _outcome(exc.status_code, str(exc.detail))
    return Response(body, media_type=FHIR_JSON)

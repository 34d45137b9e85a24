"""The compliance officer's ledger search: entries with inclusion proofs and the signed tree head."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from api.access import authorize
from api.deps import CurrentUser, Services
from ledger import compliance
from ledger.model import ACTIONS

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
MAX_LIMIT = 1000


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO-8601 instant with a zone; a naive time would silently mean the server's zone."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name}: not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise HTTPException(422, f"{name}: needs a time zone, e.g. 2026-11-25T09:00:00Z")
    return parsed


@router.get("")
async def search_audit(
    user: CurrentUser,
    services: Services,
    patient: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=1)] = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Ledger entries matching every filter (index order), each with an RFC 9162 inclusion proof
    against the returned signed head, and the ledger's public key. Compliance officers only; the
    search itself is audited (it is recorded before it runs, so it appears in its own answer)."""
    if action is not None and action not in ACTIONS:
        raise HTTPException(422, f"action: must be one of {', '.join(sorted(ACTIONS))}")
    filters = compliance.Filters(patient_id=patient, actor=actor, action=action,
                                 since=parse_time(since, "since"), until=parse_time(until, "until"))
    await authorize(services, user, action="search", subtype="audit.search",
                    resource={"type": "AuditLog", "id": "ledger", "patient_id": patient})
    result = await run_in_threadpool(compliance.search, services.ledger, filters, limit=limit, offset=offset)
    return result.to_dict()

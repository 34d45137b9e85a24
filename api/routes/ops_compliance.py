"""The compliance officer's console views: open break-glass reviews, access anomalies, ledger health.

Anomalies come from the ledger itself (through its query interface, so the embedded log and
immudb both serve): per user over a window, how many distinct patients they touched, how
many of their requests were denied and how many ran under break-glass. A user touching
far more patients than the threshold (or than their peers) is flagged for review.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from activities.storage import security_repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.services import ApiServices
from ledger.model import AuditEvent

router = APIRouter(prefix="/compliance", tags=["compliance"])

#: Ledger entries read per page, and at most per anomaly scan (the answer says when it was cut short).
PAGE, MAX_SCAN = 2000, 50_000
#: A user whose distinct patients exceed this many times the median of their peers is flagged too.
PEER_FACTOR = 5
REPEATED_DENIALS = 5


@router.get("/break-glass")
async def open_reviews(user: CurrentUser, services: Services) -> dict[str, Any]:
    """Grants whose review is pending or escalated, oldest first (no reason text, no patient)."""
    await authorize(services, user, action="list", subtype="ops.compliance.break-glass",
                    resource={"type": "BreakGlass", "id": None, "patient_id": None})
    now = datetime.now(UTC)

    def read() -> list[dict[str, Any]]:
        with services.sessions() as s:
            grants = [g for status in ("pending", "escalated")
                      for g in security_repo.list_grants(s, review_status=status, limit=500)]
        return [{"grant_id": g.id, "holder": g.user_id, "role": g.role, "review_status": g.review_status,
                 "created_at": g.created_at.isoformat(), "expires_at": g.expires_at.isoformat(),
                 "ended": g.revoked_at is not None or g.expires_at <= now,
                 "hours_open": round((now - g.created_at).total_seconds() / 3600, 1)}
                for g in sorted(grants, key=lambda g: g.created_at)]

    reviews = await run_in_threadpool(read)
    return {"reviews": reviews, "pending": sum(r["review_status"] == "pending" for r in reviews),
            "escalated": sum(r["review_status"] == "escalated" for r in reviews)}


def anomalies(events: Iterable[AuditEvent], threshold: int) -> list[dict[str, Any]]:
    """Per API user: distinct patients, accesses, denials and break-glass uses, flagged with reasons."""
    patients: dict[str, set[str]] = defaultdict(set)
    stats: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.source != "api":
            continue
        row = stats.setdefault(e.actor, {"actor": e.actor, "role": e.role, "accesses": 0, "denials": 0,
                                         "break_glass": 0})
        row["accesses"] += 1
        row["denials"] += e.decision == "deny"
        row["break_glass"] += bool(e.break_glass)
        if e.patient_id:
            patients[e.actor].add(e.patient_id)
    counts = [len(patients[a]) for a in stats]
    median = statistics.median(counts) if len(counts) >= 3 else None
    out = []
    for actor, row in stats.items():
        n = len(patients[actor])
        reasons = []
        if n >= threshold:
            reasons.append(f"read {n} distinct patients (threshold {threshold})")
        if median is not None and n >= 5 and n > PEER_FACTOR * max(median, 1):
            reasons.append(f"{n} distinct patients vs a peer median of {median:g}")
        if row["denials"] >= REPEATED_DENIALS:
            reasons.append(f"{row['denials']} denied requests")
        out.append({**row, "distinct_patients": n, "flagged": bool(reasons), "reasons": reasons})
    return sorted(out, key=lambda r: (not r["flagged"], -r["distinct_patients"], r["actor"]))


def _scan(services: ApiServices, since: datetime) -> tuple[list[AuditEvent], bool]:
    events: list[AuditEvent] = []
    while len(events) < MAX_SCAN:
        page = services.ledger.query(since=since, limit=PAGE, offset=len(events))
        events += [entry.event for entry in page]
        if len(page) < PAGE:
            return events, False
    return events, True


@router.get("/anomalies")
async def access_anomalies(user: CurrentUser, services: Services,
                           hours: Annotated[int, Query(ge=1, le=168)] = 24,
                           threshold: Annotated[int, Query(ge=2, le=10_000)] = 20) -> dict[str, Any]:
    """Users by distinct patients touched in the last ``hours``, the unusual ones flagged first."""
    await authorize(services, user, action="search", subtype="ops.compliance.anomalies",
                    resource={"type": "AuditLog", "id": "ledger", "patient_id": None})
    since = datetime.now(UTC) - timedelta(hours=hours)
    events, truncated = await run_in_threadpool(_scan, services, since)
    users = anomalies(events, threshold)
    return {"since": since.isoformat(), "hours": hours, "threshold": threshold, "entries_scanned": len(events),
            "truncated": truncated, "users": users, "flagged": sum(u["flagged"] for u in users)}


@router.get("/ledger")
async def ledger_status(user: CurrentUser, services: Services) -> dict[str, Any]:
    """A full verification of the ledger (every leaf and signed head re-derived) and its current signed head."""
    await authorize(services, user, action="read", subtype="ops.compliance.ledger",
                    resource={"type": "AuditLog", "id": "ledger", "patient_id": None})

    def run() -> dict[str, Any]:
        report = services.ledger.verify()
        head = services.ledger.signed_head()
        return {"ok": report.ok, "tree_size": report.tree_size, "problems": report.problems[:50],
                "problem_count": len(report.problems), "head": head.to_dict(),
                "head_signature_valid": head.verify(services.ledger.public_key()),
                "verified_at": datetime.now(UTC).isoformat()}

    return await run_in_threadpool(run)

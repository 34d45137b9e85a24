"""Operations aggregates for the manager console: the hospital now, tomorrow and where it is late.

Every answer is de-identified: counts by ward, stage, acuity and type, and journeys by
their journey id only (no patient id, name or identifier), so the ``manager`` role
(which may read de-identified ``Aggregate`` and ``Forecast`` resources and no single
patient's record) is served in full. Each route is authorized and recorded like any
other; the compliance officer's views live in ``ops_compliance`` under ``/ops/compliance``.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from activities.storage import ops_repo
from activities.storage import repository as repo
from activities.surge import ED_STAY_HOURS, HISTORY_WEEKS, capacity_per_hour
from api.access import authorize
from api.auth import Principal
from api.deps import CurrentUser, Services
from api.routes import ops_compliance
from api.routes.ops_staffing import staffing
from api.services import ApiServices

router = APIRouter(prefix="/api/v1/ops", tags=["operations"])
router.include_router(ops_compliance.router)

STAGES = ("admission", "admitted", "discharging", "discharged")
ACUITIES = tuple(f"ESI-{n}" for n in range(1, 6))
T = TypeVar("T")


async def _aggregate(services: ApiServices, user: Principal, name: str, rtype: str = "Aggregate") -> None:
    await authorize(services, user, action="read", subtype=f"ops.{name}",
                    resource={"type": rtype, "id": name, "patient_id": None, "deidentified": True})


async def _read(services: ApiServices, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    def run() -> T:
        with services.sessions() as s:
            return fn(s, *args, **kwargs)
    return await run_in_threadpool(run)


def _now() -> datetime:
    return datetime.now(UTC)


def _hospital_now(s: Any, now: datetime) -> dict[str, Any]:
    return {"at": now.isoformat(), "occupancy": ops_repo.occupancy(s), "ed_queue": ops_repo.ed_queue(s, now),
            "journeys_by_stage": ops_repo.journeys_by_stage(s, now), "overdue_tasks": ops_repo.overdue_tasks(s, now),
            "surge_alerts": ops_repo.surge_alerts(s, limit=5)}


@router.get("/now")
async def hospital_now(user: CurrentUser, services: Services) -> dict[str, Any]:
    """Occupancy by ward, the ED queue by acuity, journeys by stage, overdue tasks and surge alerts."""
    await _aggregate(services, user, "hospital-now")
    return await _read(services, _hospital_now, _now())


@router.get("/occupancy")
async def occupancy(user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    await _aggregate(services, user, "occupancy")
    return await _read(services, ops_repo.occupancy)


@router.get("/ed-queue")
async def ed_queue(user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    await _aggregate(services, user, "ed-queue")
    return await _read(services, ops_repo.ed_queue, _now())


@router.get("/tasks/overdue")
async def overdue_tasks(user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    await _aggregate(services, user, "overdue-tasks")
    return await _read(services, ops_repo.overdue_tasks, _now())


@router.get("/journeys/stages")
async def journeys_by_stage(user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    await _aggregate(services, user, "journey-stages")
    return await _read(services, ops_repo.journeys_by_stage, _now())


@router.get("/journeys")
async def journeys(user: CurrentUser, services: Services, stage: str | None = None, ward: str | None = None,
                   acuity: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict[str, Any]:
    """Journeys by stage, ward and acuity with a path into the Temporal UI; no patient data."""
    if stage is not None and stage not in STAGES:
        raise HTTPException(422, f"stage: one of {', '.join(STAGES)}")
    if acuity is not None and acuity not in ACUITIES:
        raise HTTPException(422, f"acuity: one of {', '.join(ACUITIES)}")
    if ward is not None and len(ward) > 40:
        raise HTTPException(422, "ward: at most 40 characters")
    await _aggregate(services, user, "journeys")
    rows = await _read(services, ops_repo.journeys, _now(), stage=stage, ward=ward, acuity=acuity, limit=limit)
    ui = services.codec_origins[0] if services.codec_origins else None
    for r in rows:
        r["temporal_path"] = f"/namespaces/default/workflows/{r['journey_id']}"
        r["temporal_url"] = f"{ui}{r['temporal_path']}" if ui else None
    return {"journeys": rows, "count": len(rows)}


@router.get("/pharmacy")
async def pharmacy(user: CurrentUser, services: Services,
                   days: Annotated[int, Query(ge=1, le=90)] = 14) -> dict[str, Any]:
    """Medication orders by status, the verification and dose worklists (open/overdue), orders per day."""
    await _aggregate(services, user, "pharmacy")
    return await _read(services, ops_repo.pharmacy, _now(), days)


@router.get("/imaging")
async def imaging(user: CurrentUser, services: Services,
                  days: Annotated[int, Query(ge=1, le=90)] = 14) -> dict[str, Any]:
    """Imaging orders by status and modality, the report worklist (open/overdue), orders and reports per day."""
    await _aggregate(services, user, "imaging")
    return await _read(services, ops_repo.imaging, _now(), days)


@router.get("/alerts")
async def surge_alerts(user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    """The surge-watch tasks opened for managers, newest first."""
    await _aggregate(services, user, "surge-alerts")
    return await _read(services, ops_repo.surge_alerts)


def _planning(s: Any, start: datetime) -> dict[str, Any]:
    return {"history": repo.hourly_arrivals(s, "emergency", start - timedelta(weeks=HISTORY_WEEKS), start),
            "capacity": capacity_per_hour(s, "emergency"), "occupancy": ops_repo.occupancy(s),
            "rostered": ops_repo.rostered_nurses(s)}


@router.get("/forecast")
async def forecast(user: CurrentUser, services: Services,
                   hours: Annotated[int, Query(ge=24, le=72)] = 72) -> dict[str, Any]:
    """ER arrivals for the next 24–72 h with the p10–p90 surge band, the ED's hourly capacity,
    and a staffing recommendation per shift and ward (decision support)."""
    if services.models is None:
        raise HTTPException(503, "decision-support models are not loaded in this API process")
    await _aggregate(services, user, "ops-forecast", rtype="Forecast")
    start = _now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    plan = await _read(services, _planning, start)
    series = await run_in_threadpool(services.models.forecast.forecast, plan["history"] or None, start, hours)
    capacity = plan["capacity"]
    return {"start": start.isoformat(), "hours": series, "band": "p10-p90", "capacity_per_hour": capacity,
            "ed_stay_hours": ED_STAY_HOURS, "hours_over_capacity": [h["hour"] for h in series if h["expected"] > capacity],
            "staffing": staffing(series, plan["occupancy"], plan["rostered"], ED_STAY_HOURS),
            "label": "decision support, not diagnosis"}

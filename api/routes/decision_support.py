"""Decision support over the API: triage scoring (NEWS2 + ESI) and the ER-arrival forecast.

Outputs are labelled decision support, not diagnosis. Neither route reads a patient
record; both are still authorized and recorded like every other route.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from activities.storage import repository as repo
from api.access import authorize
from api.deps import CurrentUser, Services
from api.services import ApiServices

router = APIRouter(prefix="/api/v1", tags=["decision support"])

#: Weeks of hourly ED arrivals the forecast is given as recent history.
HISTORY_WEEKS = 4


def _models(services: ApiServices) -> Any:
    if services.models is None:
        raise HTTPException(503, "decision-support models are not loaded in this API process")
    return services.models


@router.post("/triage/score")
async def triage_score(user: CurrentUser, services: Services,
                       body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """NEWS2 (RCP 2017 chart) and a suggested ESI level with red flags; safety rules cap the model."""
    from ml.triage.schema import InvalidInput, TriageInput

    await authorize(services, user, action="create", subtype="triage.score", resource={"type": "DecisionSupport", "id": "triage-score"})
    try:
        request = TriageInput.from_mapping(body)
    except InvalidInput as exc:
        raise HTTPException(422, f"{exc.field}: {exc.message}") from exc
    except TypeError as exc:
        raise HTTPException(422, f"body: {exc}") from exc
    result = await run_in_threadpool(_models(services).triage.score, request)
    return asdict(result)


class ForecastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hours: int = Field(24, ge=1, le=72)
    start: datetime | None = Field(None, description="first forecast hour (UTC); default: the next hour")


@router.post("/forecast/arrivals")
async def forecast_arrivals(user: CurrentUser, services: Services, body: ForecastIn | None = None) -> dict[str, Any]:
    """Hourly ER arrivals for the next hours with a 10th–90th percentile surge band (de-identified)."""
    body = body or ForecastIn()
    await authorize(services, user, action="read", subtype="forecast.arrivals",
                    resource={"type": "Forecast", "deidentified": True})
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = (body.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0) if body.start
             else now + timedelta(hours=1))
    history = await run_in_threadpool(_history, services, start - timedelta(weeks=HISTORY_WEEKS), start)
    hours = await run_in_threadpool(_models(services).forecast.forecast, history or None, start, body.hours)
    return {"start": start.isoformat(), "hours": hours, "history_hours": len(history),
            "band": "p10-p90", "label": "decision support, not diagnosis"}


def _history(services: ApiServices, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    with services.sessions() as s:
        return repo.hourly_arrivals(s, "emergency", since, until)

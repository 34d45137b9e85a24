"""Activities of the surge watch: forecast ER arrivals against capacity, open or resolve the manager task.

Capacity is the ward's throughput: its beds turned over once per average stay
(``ED_STAY_HOURS``), i.e. how many arrivals an hour it can absorb. The manager task
holds counts only (no patient); it is idempotent by id, and a resolved surge closes
the tasks still open.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.storage import repository as repo
from activities.storage.models import Bed, Task
from activities.storage.tasks import upsert_task
from workflows.surge_contracts import ALERT_TASK, SurgeAlert, SurgeAssessment, SurgeCheckInput

#: Average hours an ER patient occupies a bed; beds / stay = arrivals per hour the ward absorbs.
ED_STAY_HOURS = 4.0
#: Weeks of hourly arrivals given to the forecast as recent history.
HISTORY_WEEKS = 4


def capacity_per_hour(session: Session, ward: str, stay_hours: float = ED_STAY_HOURS) -> float:
    beds = session.scalar(sa.select(sa.func.count()).select_from(Bed).where(Bed.ward_id == ward)) or 0
    return round(beds / stay_hours, 3)


def assess(hours: list[dict[str, Any]], ward: str, start: datetime, capacity: float) -> SurgeAssessment:
    """Compare each forecast hour's expected arrivals with the hourly capacity (pure: unit-tested)."""
    peak = max(hours, key=lambda h: h["expected"], default=None)
    return SurgeAssessment(
        ward=ward, start=start, hours=len(hours), capacity_per_hour=capacity,
        expected_total=round(sum(h["expected"] for h in hours), 2),
        peak_hour=peak["hour"] if peak else None, peak_expected=peak["expected"] if peak else 0.0,
        peak_p90=peak["p90"] if peak else 0.0,
        hours_over=[h["hour"] for h in hours if h["expected"] > capacity])


class SurgeActivities:
    def __init__(self, session_factory: Callable[[], Session], models: Any) -> None:
        self._sessions = session_factory
        self._models = models

    @activity.defn(name="assess_surge")
    def assess_surge(self, inp: SurgeCheckInput) -> SurgeAssessment:
        """Forecast from the ward's recent arrivals; read-only, so retries are harmless."""
        if self._models is None or getattr(self._models, "forecast", None) is None:
            raise ApplicationError("the forecast model is not loaded in this worker", type="ModelUnavailable",
                                   non_retryable=True)
        start = (inp.start or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        with self._sessions() as s:
            history = repo.hourly_arrivals(s, inp.ward, start - timedelta(weeks=HISTORY_WEEKS), start)
            capacity = capacity_per_hour(s, inp.ward)
        hours = self._models.forecast.forecast(history or None, start, inp.hours)
        return assess(hours, inp.ward, start, capacity)

    @activity.defn(name="open_surge_alert")
    def open_surge_alert(self, alert: SurgeAlert) -> None:
        """Open the manager task (upsert by id); older surge tasks of the ward still open are superseded."""
        a = alert.assessment
        details = {"ward": a.ward, "start": a.start.isoformat(), "hours": a.hours, "expected_total": a.expected_total,
                   "capacity_per_hour": a.capacity_per_hour, "peak_hour": a.peak_hour,
                   "peak_expected": a.peak_expected, "peak_p90": a.peak_p90, "hours_over": len(a.hours_over)}
        with self._sessions() as s, s.begin():
            s.execute(sa.update(Task).where(Task.type == ALERT_TASK, Task.ward_id == a.ward, Task.status == "open",
                                            Task.id != alert.task_id)
                      .values(status="superseded", completed_at=alert.created_at))
            upsert_task(s, {"id": alert.task_id, "type": ALERT_TASK, "role": "manager", "ward_id": a.ward,
                            "patient_id": "", "encounter_id": None, "journey_id": "surge", "status": "open",
                            "workflow_id": alert.workflow_id, "due": alert.due, "details": details,
                            "created_at": alert.created_at})

    @activity.defn(name="resolve_surge_alerts")
    def resolve_surge_alerts(self, inp: SurgeCheckInput) -> None:
        """No hour over capacity: surge tasks of the ward still open are resolved."""
        with self._sessions() as s, s.begin():
            s.execute(sa.update(Task).where(Task.type == ALERT_TASK, Task.ward_id == inp.ward, Task.status == "open")
                      .values(status="resolved", completed_at=inp.start or datetime.now(UTC)))

    def all(self) -> list[Callable[..., object]]:
        return [self.assess_surge, self.open_surge_alert, self.resolve_surge_alerts]

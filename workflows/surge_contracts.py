"""Contracts of the surge watch: one forecast check in, one assessment out (new fields get defaults)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: The Temporal Schedule that runs the surge watch every hour, and the task type it opens.
SCHEDULE_ID = "hms-surge-watch"
WORKFLOW_ID = "surge-watch"
ALERT_TASK = "surge-alert"


@dataclass
class SurgeCheckInput:
    """Forecast the next ``hours`` of ER arrivals on ``ward`` and compare them with its capacity."""

    ward: str = "emergency"
    hours: int = 24
    #: The first forecast hour; None: the hour after the workflow's start (``workflow.now()``).
    start: datetime | None = None


@dataclass
class SurgeAssessment:
    """Counts only: how many arrivals are expected against how many the ward can take."""

    ward: str
    start: datetime
    hours: int
    expected_total: float
    capacity_per_hour: float
    peak_hour: str | None = None
    peak_expected: float = 0.0
    peak_p90: float = 0.0
    #: Forecast hours whose expected arrivals exceed the hourly capacity.
    hours_over: list[str] = field(default_factory=list)

    @property
    def exceeded(self) -> bool:
        return bool(self.hours_over)


@dataclass
class SurgeAlert:
    """The manager task to open (idempotent by ``task_id``) and the workflow it belongs to."""

    task_id: str
    workflow_id: str
    created_at: datetime
    due: datetime
    assessment: SurgeAssessment


@dataclass
class SurgeResult:
    assessment: SurgeAssessment
    alert_task_id: str | None = None

"""Activity options chosen deliberately for every journey.

Storage activities retry forever with capped backoff (a database outage must
delay a journey, never lose it); business refusals are non-retryable errors.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

STORAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["AdmissionRefused", "CareTeamUnavailable"],
)

STORAGE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": STORAGE_RETRY,
}

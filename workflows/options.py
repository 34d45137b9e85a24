"""Activity options chosen deliberately for every journey.

Storage activities retry forever with capped backoff (a database outage must
delay a journey, never lose it); business refusals are non-retryable errors.

Short idempotent writes on a journey's hot path (admission) run as *local*
activities: the worker that holds the workflow task runs them and records each
result as a marker, so a run of writes costs one workflow task instead of a
server round trip per write. They keep the same retry policy; past
``local_retry_threshold`` a retry waits on a durable timer, so an outage still
delays rather than loses. Anything that may block (waits, external systems)
stays a normal activity.
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

#: Options for storage writes run as local activities (see the module docstring).
LOCAL_STORAGE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": STORAGE_RETRY,
    "local_retry_threshold": timedelta(seconds=30),
}

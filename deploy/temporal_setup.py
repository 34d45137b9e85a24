"""Register the journeys' custom search attributes on a Temporal namespace (idempotent).

The embedded dev server gets them on its command line; an external cluster or the
time-skipping test server gets them through the operator service. The hourly surge-watch
Schedule is created here too, idempotently, when a worker starts.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows.search_attributes import SEARCH_ATTRIBUTES

_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
}


async def ensure_search_attributes(client: Client, namespace: str = "default") -> list[str]:
    """Add whichever of our search attributes the namespace lacks; returns the names added."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace))
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as exc:
        # The time-skipping test server cannot list them but accepts additions.
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {name: _TYPES[kind] for name, kind in SEARCH_ATTRIBUTES.items() if name not in known}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing))
    return sorted(missing)


async def ensure_surge_schedule(client: Client, task_queue: str, every: timedelta = timedelta(hours=1)) -> bool:
    """Create the hourly surge-watch Schedule unless it exists; True if it was created (idempotent)."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    from workflows.surge import SurgeWatch
    from workflows.surge_contracts import SCHEDULE_ID, WORKFLOW_ID, SurgeCheckInput

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(SurgeWatch.run, SurgeCheckInput(), id=WORKFLOW_ID, task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True


def ensure_schedules(settings: Any) -> None:
    """At worker start: make sure the surge watch is scheduled; a failure is logged, never fatal to the worker."""
    import asyncio
    import logging

    from deploy import wiring

    async def main() -> bool:
        client = await wiring.connect_temporal(settings)
        return await ensure_surge_schedule(client, settings.task_queue)

    try:
        created = asyncio.run(main())
    except Exception:  # the worker is still useful without the hourly surge check
        logging.getLogger("hms").exception("could not ensure the surge-watch schedule")
        return
    logging.getLogger("hms").info("surge-watch schedule %s", "created" if created else "already present")

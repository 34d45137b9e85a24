"""Sending HL7 v2 out from a workflow: build once, then deliver to every destination, never dropping.

A workflow that reaches an event worth telling other systems (an admission, a discharge, a
result, an order) calls :func:`send_hl7` with a control id of its own (deterministic, e.g.
``<encounter id>-A01``) and the destinations it was given (``HMS_HL7_DESTINATIONS``, passed in
its input since workflows read no configuration). Each delivery retries without a maximum
number of attempts: an unreachable destination delays its copy, it never loses it.

Journeys do not call it: they hand their messages to the stay's ``Hl7OutboxWorkflow``
(``workflows.hl7_outbox``), which keeps them in order per destination with the same retry policy.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.hl7_outbound import Hl7OutboundActivities
    from workflows.hl7_contracts import Hl7Outbound, Hl7OutboundRequest
    from workflows.options import STORAGE

#: No maximum_attempts on purpose; only a malformed request (non-retryable) stops a delivery.
OUTBOUND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=5),
                             non_retryable_error_types=["Hl7Unsupported", "PatientUnknown"])


def parse_destinations(value: str | None) -> list[str]:
    """``host:port,host:port`` → the list (blank entries ignored)."""
    return [d.strip() for d in (value or "").split(",") if d.strip()]


async def send_hl7(request: Hl7OutboundRequest, destinations: list[str]) -> None:
    if not destinations:
        return
    text = await workflow.execute_activity_method(Hl7OutboundActivities.hl7_build_outbound, request, **STORAGE)
    await asyncio.gather(*(
        workflow.execute_activity_method(
            Hl7OutboundActivities.hl7_send, Hl7Outbound(destination=d, message=text, control_id=request.control_id),
            start_to_close_timeout=timedelta(seconds=60), retry_policy=OUTBOUND_RETRY)
        for d in destinations))

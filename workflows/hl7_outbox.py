"""Hl7OutboxWorkflow: one stay's outbound HL7 v2, in order, to every configured destination, never dropped.

The journey starts it (``hl7-outbox-<encounter id>``, an abandoned child) with the ADT^A01 and
signals ``enqueue`` for each later event (ORM^O01, ORU^R01, ADT^A03). Each message is built once
from the store, as soon as it is queued, then delivered by one lane per destination: a lane sends
its messages one after the other, each retried without a maximum number of attempts, so a
destination that is down gets everything, in order, once it is back, while the other destinations
are not held up and the journey (which only waits for the signal) never is. The control id is fixed
by the journey, so a redelivery (an ACK lost, a retried activity) is the same message to the receiver.

Ends when the A03 has reached every destination, or after ``idle_hours`` with nothing to send
(a journey terminated by an operator never sends its A03); continues as new at a quiet moment.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.hl7_outbound import Hl7OutboundActivities
    from workflows.hl7_contracts import Hl7Outbound, Hl7OutboundRequest, Hl7OutboxInput, Hl7OutboxState
    from workflows.hl7_outbound import OUTBOUND_RETRY
    from workflows.options import STORAGE

SEEN_LIMIT = 1000


def outbox_workflow_id(encounter_id: str) -> str:
    return f"hl7-outbox-{encounter_id}"


@workflow.defn(name="Hl7OutboxWorkflow")
class Hl7OutboxWorkflow:
    @workflow.init
    def __init__(self, inp: Hl7OutboxInput) -> None:
        self._seen: list[str] = list(inp.seen)
        self._queue: list[Hl7OutboundRequest] = []
        self._texts: list[tuple[str, str]] = []
        self._sent: dict[str, int] = dict.fromkeys(inp.destinations, 0)
        self._closing = False
        self._in_run = 0
        for req in inp.pending:
            self.enqueue(req)

    @workflow.signal
    def enqueue(self, req: Hl7OutboundRequest) -> None:
        """One more message of the stay; a control id already taken is ignored."""
        if req.control_id in self._seen:
            return
        self._seen.append(req.control_id)
        del self._seen[:-SEEN_LIMIT]
        self._queue.append(req)
        self._closing = self._closing or req.kind == "ADT^A03"

    @workflow.query
    def state(self) -> Hl7OutboxState:
        return Hl7OutboxState(queued=len(self._queue), built=len(self._texts), delivered=dict(self._sent),
                              closing=self._closing)

    @workflow.run
    async def run(self, inp: Hl7OutboxInput) -> Hl7OutboxState:
        lanes = [asyncio.create_task(self._lane(d)) for d in inp.destinations]
        while True:
            try:
                await workflow.wait_condition(lambda: bool(self._queue) or self._quiet(inp),
                                              timeout=timedelta(hours=inp.idle_hours))
            except TimeoutError:
                if self._drained():
                    break
                continue
            if self._queue:
                await self._build(self._queue[0])
                self._queue.pop(0)
                continue
            await workflow.wait_condition(lambda: self._drained() or bool(self._queue))
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._queue or not self._drained():
                continue
            if self._closing:
                break
            workflow.continue_as_new(Hl7OutboxInput(encounter_id=inp.encounter_id, destinations=inp.destinations,
                                                    seen=list(self._seen), idle_hours=inp.idle_hours,
                                                    continue_after=inp.continue_after))
        for lane in lanes:
            lane.cancel()
        return self.state()

    def _quiet(self, inp: Hl7OutboxInput) -> bool:
        """Time to end (the A03 is queued) or to continue as new (a long stay), once all is delivered."""
        return self._closing or self._in_run >= inp.continue_after or workflow.info().is_continue_as_new_suggested()

    def _drained(self) -> bool:
        return not self._queue and all(n == len(self._texts) for n in self._sent.values())

    async def _build(self, req: Hl7OutboundRequest) -> None:
        try:
            text = await workflow.execute_activity_method(Hl7OutboundActivities.hl7_build_outbound, req, **STORAGE)
        except ActivityError:  # a request that can never be built (unknown kind or patient): nothing to send
            workflow.logger.warning("outbound HL7 %s could not be built; it is not sent", req.kind)
            return
        self._texts.append((req.control_id, text))
        self._in_run += 1

    async def _lane(self, destination: str) -> None:
        """Deliver every built message to one destination, in order; each retried until it is accepted."""
        while True:
            await workflow.wait_condition(lambda: self._sent[destination] < len(self._texts))
            control_id, text = self._texts[self._sent[destination]]
            await workflow.execute_activity_method(
                Hl7OutboundActivities.hl7_send, Hl7Outbound(destination=destination, message=text,
                                                            control_id=control_id),
                start_to_close_timeout=timedelta(seconds=60), retry_policy=OUTBOUND_RETRY)
            self._sent[destination] += 1


__all__ = ["Hl7OutboxWorkflow", "outbox_workflow_id"]

"""Outbound HL7 v2 of a stay: ADT^A01 on admission, ORM^O01 per order, ORU^R01 per result, ADT^A03 at the end.

The journey only hands each message to the stay's ``Hl7OutboxWorkflow`` (``workflows.hl7_outbox``):
the first one starts it as an abandoned child, later ones are signals, one at a time so they reach
it in the order of the stay's events. Delivery, and its retries while a destination is down, happen
there, so care is never held up by a receiver and the journey's history grows by a few events per
message. The destinations are ``JourneyInput.hl7_destinations``, filled by whoever starts the journey
(the admission route, the HL7 inbox) from ``HMS_HL7_DESTINATIONS``: none, and nothing is sent and no
command is added (runs recorded before the ``hl7-outbound`` patch have none).
"""
from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import JourneyInput, ResultNotice
    from workflows.hl7_contracts import Hl7OutboundRequest, Hl7OutboxInput
    from workflows.hl7_outbox import Hl7OutboxWorkflow, outbox_workflow_id
    from workflows.stages import StageRequest

#: Patch: the journey tells the configured HL7 destinations of its admission, orders, results and discharge.
HL7_OUTBOUND = "hl7-outbound"
#: Stage kinds that are orders (an ORM^O01 goes out when one starts).
ORDER_KINDS = frozenset({"imaging", "pharmacy"})
RESULT_NAMESPACE = uuid.UUID("5b0e7d4c-9a2f-4c61-8d3e-7f1a2b3c4d5e")


class JourneyHl7:
    """Mixin of ``PatientJourney``: needs ``_inp`` and ``_require_state``; call ``_hl7_init`` in ``__init__``."""

    def _hl7_init(self) -> None:
        self._hl7_queue: list[Hl7OutboundRequest] = []
        self._hl7_pump: asyncio.Task[None] | None = None

    def _hl7_send(self, kind: str, control_id: str, **fields: object) -> None:
        """Queue one outbound message (no-op without destinations); it is handed over in the background."""
        inp: JourneyInput = self._inp  # type: ignore[attr-defined]
        if not inp.hl7_destinations or not workflow.patched(HL7_OUTBOUND):
            return
        state = self._require_state()  # type: ignore[attr-defined]
        self._hl7_queue.append(Hl7OutboundRequest(kind=kind, control_id=control_id, patient_id=state.patient_id,
                                                  encounter_id=state.encounter_id, **fields))  # type: ignore[arg-type]
        if self._hl7_pump is None or self._hl7_pump.done():
            self._hl7_pump = asyncio.create_task(self._hl7_drain())

    def _hl7_idle(self) -> bool:
        """Every queued message is with the outbox (before continuing as new or returning)."""
        return not self._hl7_queue and (self._hl7_pump is None or self._hl7_pump.done())

    def _hl7_admitted(self) -> None:
        self._hl7_send("ADT^A01", f"A01-{self._require_state().encounter_id}")  # type: ignore[attr-defined]

    async def _hl7_discharged(self) -> None:
        """The A03, then wait until it (and anything before it) is with the outbox."""
        self._hl7_send("ADT^A03", f"A03-{self._require_state().encounter_id}")  # type: ignore[attr-defined]
        await workflow.wait_condition(self._hl7_idle)

    def _hl7_order(self, request: StageRequest) -> None:
        if request.kind not in ORDER_KINDS:
            return
        p = request.payload
        code = str(p.get("drug_code") or p.get("modality") or request.kind)
        text = f"{p.get('modality')} {p.get('body_site')}" if request.kind == "imaging" else f"RxNorm {code}"
        self._hl7_send("ORM^O01", f"ORM-{request.stage_id}", order_id=request.stage_id, order_code=code,
                       order_text=text)

    def _hl7_result(self, notice: ResultNotice) -> None:
        key = uuid.uuid5(RESULT_NAMESPACE, f"{notice.observation_id}|{notice.status}")
        self._hl7_send("ORU^R01", f"ORU-{key}", observation_ids=[notice.observation_id], order_code=notice.code)

    async def _hl7_drain(self) -> None:
        while self._hl7_queue:
            try:
                await self._hl7_hand_over(self._hl7_queue[0])
            except FailureError:  # the outbox could be neither signalled nor started: never hold the stay up
                workflow.logger.error("an outbound HL7 %s could not be handed to the outbox", self._hl7_queue[0].kind)
            self._hl7_queue.pop(0)

    async def _hl7_hand_over(self, req: Hl7OutboundRequest) -> None:
        state = self._require_state()  # type: ignore[attr-defined]
        outbox_id = outbox_workflow_id(state.encounter_id)
        if req.kind != "ADT^A01":
            try:
                await workflow.get_external_workflow_handle(outbox_id).signal(Hl7OutboxWorkflow.enqueue, req)
                return
            except FailureError:  # the outbox ended (idle for long): a new one takes the message
                workflow.logger.info("the stay's HL7 outbox had ended; starting a new one")
        inp: JourneyInput = self._inp  # type: ignore[attr-defined]
        try:
            await workflow.start_child_workflow(
                Hl7OutboxWorkflow.run, Hl7OutboxInput(encounter_id=state.encounter_id,
                                                      destinations=list(inp.hl7_destinations), pending=[req]),
                id=outbox_id, parent_close_policy=ParentClosePolicy.ABANDON)
        except WorkflowAlreadyStartedError:
            await workflow.get_external_workflow_handle(outbox_id).signal(Hl7OutboxWorkflow.enqueue, req)


__all__ = ["HL7_OUTBOUND", "JourneyHl7", "ORDER_KINDS"]

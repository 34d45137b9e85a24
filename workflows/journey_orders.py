"""Orders that reach the journey by signal (HL7 ORM^O01 / OML^O21, from ``workflows.hl7_orders``).

``place_order`` starts an imaging or pharmacy stage as the ``start_stage`` update does (same
checks, same child, same stage id → the one already started), once admission has finished; an
order the journey cannot take (discharge under way, a payload the stage refuses) is logged and
dropped, since a signal has no caller to answer (the listener checked patient, stay and codes
before its ``AA``). ``cancel_order`` cancels the running order stage with one of the given ids; the
stage compensates as it does at discharge (pharmacy: no further doses, unused stock returned) and
is recorded as ``cancelled``. The cancelled ids live in ``JourneyState.cancelled_orders``, which
travels through continue-as-new: an order whose cancellation overtook it, arriving late in a
continued run, is still not started (a cancelled stage that had run stays in ``stages`` anyway).

Signal handlers add no command to histories without these signals, so journeys recorded before
them replay unchanged.
"""
from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.hl7_orders import OrderCancel
    from workflows.journey_hl7 import ORDER_KINDS
    from workflows.stage_registry import STAGE_SPECS
    from workflows.stages import StageInputError, StageRequest, StageStatus, stage_workflow_id


#: The journey state keeps the latest cancelled order ids only (it travels through continue-as-new).
MAX_CANCELLED = 500


class JourneyOrders:
    """Mixin of ``PatientJourney``: needs ``_require_state``, ``_launch``, ``_children``, ``_context``,
    ``_may_review`` (admitted, not discharging); call ``_orders_init`` in ``__init__``."""

    def _orders_init(self) -> None:
        #: Stage ids whose cancellation was asked for (a cancel may overtake its order's start); a continued
        #: run starts from those its state carried.
        self._order_cancels: set[str] = set(self._require_state().cancelled_orders)  # type: ignore[attr-defined]

    @workflow.signal
    async def place_order(self, request: StageRequest) -> None:
        state = self._require_state()  # type: ignore[attr-defined]
        await workflow.wait_condition(lambda: state.stage != "admission" or state.status == "failed")
        if request.kind not in ORDER_KINDS or not self._may_review():  # type: ignore[attr-defined]
            workflow.logger.warning("an order signalled at stage %s was not started", state.stage)
            return
        if request.stage_id in self._order_cancels:
            return
        try:
            STAGE_SPECS[request.kind].build_input(self._context(), request)  # type: ignore[attr-defined]
        except StageInputError:
            workflow.logger.warning("an order signalled to the journey was refused by its stage")
            return
        workflow_id = stage_workflow_id(request.kind, request.stage_id)
        try:
            await self._launch(request)  # type: ignore[attr-defined]
        except FailureError as err:  # e.g. that workflow id runs outside this journey
            for status in state.stages:
                if status.workflow_id == workflow_id and workflow_id not in self._children:  # type: ignore[attr-defined]
                    status.status, status.failure, status.ended_at = "failed", str(err)[:200], workflow.now()
            return
        if request.stage_id in self._order_cancels:
            self._cancel_stage(request.stage_id)

    @workflow.signal
    def cancel_order(self, request: OrderCancel) -> None:
        carried: list[str] = self._require_state().cancelled_orders  # type: ignore[attr-defined]
        for stage_id in request.stage_ids:
            if stage_id not in self._order_cancels:
                self._order_cancels.add(stage_id)
                carried.append(stage_id)
        del carried[:-MAX_CANCELLED]
        for stage_id in request.stage_ids:
            self._cancel_stage(stage_id, request.kinds)

    def _cancel_stage(self, stage_id: str, kinds: list[str] | None = None) -> None:
        for status in self._require_state().stages:  # type: ignore[attr-defined]
            status_: StageStatus = status
            if status_.stage_id != stage_id or status_.kind not in (kinds or ORDER_KINDS):
                continue
            handle = self._children.get(status_.workflow_id)  # type: ignore[attr-defined]
            if status_.status == "running" and handle is not None:
                handle.cancel()

    def _cancelled_by_order(self, status: StageStatus) -> bool:
        return status.stage_id in self._order_cancels


__all__ = ["JourneyOrders", "MAX_CANCELLED"]

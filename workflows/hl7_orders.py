"""HL7 orders into the journey: ORC-1 ``NW`` starts an imaging or pharmacy stage, ``CA``/``DC`` stops one.

The inbox (``Hl7IngestWorkflow``) applies a patient's messages in order; for an order it signals
the patient's ``PatientJourney`` (``place_order`` / ``cancel_order``, see ``workflows.journey_orders``),
which starts the stage exactly as the task API's ``start_stage`` update does. The stage id comes from
the placer order number (ORC-2 with its namespace, scoped to the patient), so a resent message, or
another message with the same placer number, names the same stage and starts nothing new; a cancel
finds the stage by the same id (or by the hospital's own order id, for an order that went out as
ORM^O01 and comes back cancelled).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.hl7_contracts import Hl7Message, Hl7Outcome, Hl7PatientFacts
    from workflows.stages import StageRequest

#: Patch: ORM^O01 / OML^O21 start and cancel the journey's orders (they used to be recorded only).
ORDERS_START = "hl7-orders-start-stages"
ORDER_NAMESPACE = uuid.UUID("0c9a4f3e-2d41-4b8e-9f57-3e6a1d2b7c90")


@dataclass
class OrderCancel:
    """``cancel_order``: stop the running order stage whose id is one of ``stage_ids``."""

    stage_ids: list[str]
    requested_by: str
    reason: str = "cancelled by the placer (HL7 ORC-1 CA)"
    kinds: list[str] = field(default_factory=lambda: ["imaging", "pharmacy"])


def order_stage_id(patient_id: str, namespace: str, placer: str) -> str:
    """The stage id of a placer order number: the same number for the same patient is the same order."""
    return str(uuid.uuid5(ORDER_NAMESPACE, f"{patient_id}|{namespace}|{placer}"))


def order_stage_ids(patient_id: str, msg: Hl7Message) -> list[str]:
    """Stage ids an order message may name: the derived one, and the placer number itself when it is ours."""
    placer = msg.order_id or ""
    ids = [order_stage_id(patient_id, msg.order_namespace or msg.sending_facility, placer)]
    if placer not in ids and 0 < len(placer) <= 60:
        ids.append(placer)
    return ids


async def apply_order(msg: Hl7Message, facts: Hl7PatientFacts, by: str) -> Hl7Outcome:
    """Signal the order (or its cancellation) to the patient's journey; ids only in the outcome."""
    if not facts.exists:
        return Hl7Outcome(msg.control_id, msg.kind, "failed", "the patient (PID-3) is not known here")
    if facts.active_journey_id is None:
        return Hl7Outcome(msg.control_id, msg.kind, "failed", "the patient has no current stay")
    journey = workflow.get_external_workflow_handle(facts.active_journey_id)
    ids = order_stage_ids(facts.patient_id, msg)
    try:
        if msg.order_control == "NW":
            await journey.signal("place_order", StageRequest(kind=msg.order_kind, stage_id=ids[0],
                                                             requested_by=by, payload=dict(msg.order_payload)))
            return Hl7Outcome(msg.control_id, msg.kind, "applied", f"{msg.order_kind} order {ids[0]} placed",
                              facts.active_journey_id)
        await journey.signal("cancel_order", OrderCancel(stage_ids=ids, requested_by=by))
    except FailureError:  # the stay ended between the lookup and the signal
        return Hl7Outcome(msg.control_id, msg.kind, "failed", "the patient's stay ended before the order")
    return Hl7Outcome(msg.control_id, msg.kind, "applied", f"order {ids[0]} cancellation sent",
                      facts.active_journey_id)


__all__ = ["ORDERS_START", "OrderCancel", "apply_order", "order_stage_id", "order_stage_ids"]

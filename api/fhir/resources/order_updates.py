"""Order updates over FHIR: a MedicationRequest cancelled (or stopped), a ServiceRequest revoked.

Orders change by being cancelled and ordered again, so an update may change ``status`` (and, for a
MedicationRequest, give the ``statusReason`` a cancellation needs); any other element that differs
from the order as read is a 422 naming it. The cancellation goes where the other doors send it:

* a medication order to its course's ``cancel_order`` update, as
  ``POST /api/v1/medication-orders/{id}/cancel`` does: no further doses, open tasks closed, unused
  stock returned once. The update returns once the order is closed, so the answer is the cancelled
  order (200).
* an imaging order to the journey's ``cancel_order`` signal, as an HL7 cancel does (the task API has
  no imaging cancel): the journey cancels the imaging stage, which compensates and records the order
  ``revoked``. A signal has no answer, so this is ``202 Accepted``; read the order for its status.

Like the task API, only the attending physician cancels (the policy decides who may update at all).
Asking again for the state an order is already in is idempotent (200, the order unchanged; a
``stopped`` request on a cancelled order counts as the same). Cancelling an order that completed is
a 409, as is an order whose course or stay has ended.
"""
from __future__ import annotations

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError, RPCStatusCode

from activities import imaging as imaging_store
from activities.storage import pharmacy as pharmacy_store
from api.auth import Principal
from api.fhir.errors import FhirError, outcome
from api.fhir.interactions import session_call
from api.fhir.registry import Accepted, Resource, ResourceType, Written
from api.fhir.resources.status_changes import engine, only_attending, refused, required_reason, unchanged_but
from api.services import ApiServices
from api.updates import run_update
from workflows.hl7_orders import OrderCancel
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import CancelOrder

RE_ORDER = "an order is changed by cancelling it and ordering again"
MED_CANCELLED = ("cancelled", "stopped")
SR_REVOKED = "revoked"
#: Fixed text (no clinical content) of the journey's cancel signal; the signal keeps no free text.
SR_REASON = "revoked over FHIR (ServiceRequest.status)"


async def cancel_medication_order(services: ApiServices, user_id: str, order_id: str, workflow_id: str,
                                  reason: str) -> None:
    """The course's ``cancel_order`` update (the task API's cancel route does the same); refusals as FhirError."""
    handle = engine(services).get_workflow_handle_for(PharmacyWorkflow.run, workflow_id)
    try:
        await run_update(handle, PharmacyWorkflow.cancel_order, CancelOrder(requested_by=user_id, reason=reason),
                         errors={"InvalidTaskPayload": 422}, ended=f"MedicationRequest/{order_id} has ended")
    except HTTPException as exc:
        raise refused(exc) from None


def _medication_workflow(services: ApiServices, order_id: str) -> str:
    with services.sessions() as s:
        o = pharmacy_store.get_order(s, order_id)
        if o is None:
            raise FhirError(404, f"MedicationRequest/{order_id} not found")
        return o.workflow_id


def _imaging_journey(services: ApiServices, order_id: str) -> str:
    with services.sessions() as s:
        o = imaging_store.get_order(s, order_id)
        if o is None:
            raise FhirError(404, f"ServiceRequest/{order_id} not found")
        return o.journey_id


async def _reread(services: ApiServices, rt: ResourceType, rid: str) -> Resource:
    assert rt.read is not None
    found = await run_in_threadpool(session_call, services, rt.read, rid)
    if found is None:
        raise FhirError(404, f"{rt.name}/{rid} not found")
    return found


def _wanted(rtype: str, body: Resource, current: Resource, changing: set[str], allowed: tuple[str, ...]) -> str | None:
    """The status asked for; None when it is the current one (nothing to do). 422 for any other change."""
    unchanged_but(rtype, body, current, changing, RE_ORDER)
    wanted = str(body.get("status"))
    if wanted == current.get("status"):
        return None
    if wanted not in allowed:
        raise FhirError(422, f"{rtype}.status: may only become {' or '.join(allowed)}; {RE_ORDER}",
                        expression=[f"{rtype}.status"])
    return wanted


async def medication_request_update(services: ApiServices, user: Principal, rt: ResourceType, rid: str,
                                    body: Resource, current: Resource) -> Written:
    """``status`` → cancelled / stopped: the course is cancelled; the answer is the closed order."""
    if _wanted(rt.name, body, current, {"status", "statusReason"}, MED_CANCELLED) is None:
        return current, False
    only_attending(user, "a medication order")
    if current.get("status") in MED_CANCELLED:
        return current, False  # already cancelled (or rejected): the same cancellation again
    if current.get("status") == "completed":
        raise FhirError(409, f"MedicationRequest/{rid} is completed: there is nothing left to cancel")
    reason = required_reason(rt.name, body.get("statusReason"), "cancelling an order")
    workflow_id = await run_in_threadpool(_medication_workflow, services, rid)
    await cancel_medication_order(services, user.user_id, rid, workflow_id, reason)
    return await _reread(services, rt, rid), False


async def service_request_update(services: ApiServices, user: Principal, rt: ResourceType, rid: str,
                                 body: Resource, current: Resource) -> Written:
    """``status`` → revoked: the journey cancels the imaging stage, which records the revocation (202)."""
    if _wanted(rt.name, body, current, {"status"}, (SR_REVOKED,)) is None:
        return current, False
    only_attending(user, "an imaging order")
    if current.get("status") != "active":
        raise FhirError(409, f"ServiceRequest/{rid} is {current.get('status')}: only an active order is revoked")
    journey_id = await run_in_threadpool(_imaging_journey, services, rid)
    handle = engine(services).get_workflow_handle_for(PatientJourney.run, journey_id)
    try:
        await handle.signal(PatientJourney.cancel_order,
                            OrderCancel(stage_ids=[rid], requested_by=user.user_id, reason=SR_REASON,
                                        kinds=["imaging"]))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise FhirError(409, f"the stay of ServiceRequest/{rid} has ended: the order can no longer be revoked") \
                from None
        raise
    return Accepted(rt.name, rid, outcome(
        f"accepted: ServiceRequest/{rid} is being revoked: the journey cancels its imaging stage, which records "
        "the order revoked; read it for its status", severity="information", code="informational"))

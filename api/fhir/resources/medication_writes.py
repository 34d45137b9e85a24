"""MedicationAdministration writes: a dose recorded on the eMAR, and a record marked entered-in-error.

Create is a nurse recording the due dose of an order: the open ``medication-administration`` task of
the order's pharmacy course is completed through the course's ``complete_task`` update, the one
``POST /api/v1/tasks/{id}/complete`` uses, so the course's own rules apply (the dose task is for
the nurse role; a dose already recorded is refused) and the course stores the eMAR row before the
update returns: the answer is that row (201). The body must be the due dose (``dose_records``, 422);
no dose of the order due now is a 409.

Update corrects the eMAR without rewriting it: ``status`` may become ``entered-in-error`` (the row
keeps what was recorded and gains who corrected it, when; the decision is on the ledger); anything
else is a 422 naming the element. A record entered in error stays so; repeating the correction is a
no-op (200).
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage.emar_corrections import mark_entered_in_error
from activities.storage.models import Task
from activities.storage.models_pharmacy import MedicationOrder
from api.auth import Principal
from api.fhir.errors import FhirError, outcome
from api.fhir.interactions import session_call
from api.fhir.registry import Accepted, Resource, ResourceType, Written
from api.fhir.resources.dose_records import MA, OrderFacts, dose_payload, requested_order
from api.fhir.resources.status_changes import engine, refused, unchanged_but
from api.routes.tasks import UPDATE_ERRORS
from api.services import ApiServices
from api.updates import run_update
from workflows.contracts import TaskCompletion
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import DOSE

IN_ERROR = "entered-in-error"


def _due_dose(services: ApiServices, order_id: str) -> tuple[OrderFacts | None, str | None]:
    """The order (None when unknown) and the id of its open dose task (None when no dose is due)."""
    with services.sessions() as s:
        o = s.get(MedicationOrder, order_id) if len(order_id) <= 60 else None
        if o is None:
            return None, None
        task_id = s.scalar(sa.select(Task.id).where(Task.workflow_id == o.workflow_id, Task.type == DOSE,
                                                    Task.status == "open")
                           .order_by(Task.due.asc().nulls_last(), Task.created_at).limit(1))
        return OrderFacts(id=o.id, patient_id=o.patient_id, encounter_id=o.encounter_id, workflow_id=o.workflow_id,
                          status=o.status, drug_code=o.drug_code, dose=o.dose, unit=o.unit, route=o.route), task_id


async def _stored(services: ApiServices, rt: ResourceType, rid: str) -> Resource | None:
    assert rt.read is not None
    return await run_in_threadpool(session_call, services, rt.read, rid)


async def record_dose(services: ApiServices, user: Principal, rt: ResourceType, body: Resource) -> Written:
    """Complete the order's due dose task with the FHIR resource's status and reason."""
    order_id = requested_order(body)
    order, task_id = await run_in_threadpool(_due_dose, services, order_id)
    if order is None:
        raise FhirError(422, f"{MA}.request: MedicationRequest/{order_id} is not a known order",
                        expression=[f"{MA}.request"])
    payload = dose_payload(body, order, user.user_id, datetime.now(UTC))
    if task_id is None:
        raise FhirError(409, f"no dose of MedicationRequest/{order_id} is due now (the order is {order.status}): "
                             "a dose is recorded while its administration task is open")
    handle = engine(services).get_workflow_handle_for(PharmacyWorkflow.run, order.workflow_id)
    try:
        await run_update(handle, PharmacyWorkflow.complete_task,
                         TaskCompletion(task_id=task_id, actor=user.user_id, role=user.role, payload=payload),
                         errors=UPDATE_ERRORS, ended=f"MedicationRequest/{order_id} has ended: no dose is due")
    except HTTPException as exc:
        raise refused(exc) from None
    stored = await _stored(services, rt, task_id)
    if stored is None:  # the course records the dose inside the update; this is only a safety net
        return Accepted(MA, task_id, outcome(f"accepted: {MA}/{task_id} is recorded by the order's course",
                                             severity="information", code="informational"))
    return stored, True


def _mark(services: ApiServices, rid: str, user_id: str) -> None:
    with services.sessions() as s, s.begin():
        mark_entered_in_error(s, rid, user_id)


async def correct_record(services: ApiServices, user: Principal, rt: ResourceType, rid: str, body: Resource,
                         current: Resource) -> Written:
    """``status`` → ``entered-in-error``: the eMAR record is nullified, kept, and its corrector recorded."""
    now, wanted = current.get("status"), body.get("status")
    # A correction already made serves its note; a repeat that omits it is still the same correction.
    changing: set[str] = {"status"} | ({"note"} if now == IN_ERROR and "note" not in body else set())
    unchanged_but(MA, body, current, changing, "the eMAR keeps what was recorded; only status may become "
                                               f"{IN_ERROR}")
    if wanted == now:
        return current, False
    if now == IN_ERROR or wanted != IN_ERROR:
        raise FhirError(422, f"{MA}.status: a recorded dose is corrected only by marking it {IN_ERROR}, "
                             "which cannot be undone", expression=[f"{MA}.status"])
    await run_in_threadpool(_mark, services, rid, user.user_id)
    stored = await _stored(services, rt, rid)
    if stored is None:
        raise FhirError(404, f"{MA}/{rid} not found")
    return stored, False

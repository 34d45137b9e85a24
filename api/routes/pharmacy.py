"""Pharmacy: medication orders, the pharmacist's worklist, the eMAR and allergies.

Orders start the journey's ``pharmacy`` stage; verification, dispensing problems and
dose administration are tasks completed through ``POST /api/v1/tasks/{id}/complete``.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from activities.formulary import load_formulary
from activities.storage import pharmacy as store
from activities.storage import pharmacy_text
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.routes.stages import journey_state, start_stage
from api.services import ApiServices
from api.updates import run_update
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import ROUTES, UNITS, CancelOrder, PharmacyState, dose_times, parse_order
from workflows.stages import StageInputError, StageRequest

router = APIRouter(prefix="/api/v1", tags=["pharmacy"])


class MedicationOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    drug_code: Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
    dose: Annotated[float, Field(gt=0)]
    unit: Literal[UNITS]  # type: ignore[valid-type]
    route: Literal[ROUTES]  # type: ignore[valid-type]
    frequency_hours: Annotated[int, Field(ge=1, le=168)]
    duration_days: Annotated[float | None, Field(gt=0, le=60)] = None
    doses: Annotated[int | None, Field(ge=1, le=200)] = None
    first_dose_delay_minutes: Annotated[int, Field(ge=0, le=1440)] = 0
    #: Client-chosen id, so a retried order starts nothing new.
    order_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9-]{8,60}$")] = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class AllergyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    #: An RxNorm ingredient code of the formulary, or a formulary drug class (e.g. ``penicillin``).
    code: Annotated[str, Field(min_length=1, max_length=60)]
    criticality: Literal["low", "high", "unable-to-assess"] = "unable-to-assess"
    reaction: Annotated[str | None, Field(pattern=r"^[a-z0-9-]{1,60}$")] = None


@router.post("/journeys/{journey_id}/medication-orders", status_code=202)
async def order_medication(journey_id: str, body: MedicationOrderIn, user: CurrentUser,
                           services: Services) -> dict[str, Any]:
    """An attending orders a medication (MedicationRequest); the journey starts its pharmacy stage."""
    state = await journey_state(services, journey_id)
    order_id = body.order_id or str(uuid.uuid4())
    resource = await run_in_threadpool(patient_resource, services, "MedicationRequest", state.patient_id, order_id,
                                       default_ward=state.ward)
    await authorize(services, user, action="create", resource=resource, subtype="medication.order.create")
    payload = body.model_dump(exclude={"order_id"}, exclude_none=True)
    _check_against_formulary(payload)
    status = await start_stage(services, journey_id, StageRequest(kind="pharmacy", stage_id=order_id,
                                                                  requested_by=user.user_id, payload=payload))
    return {"order_id": order_id, "journey_id": journey_id, "workflow_id": status.workflow_id,
            "status": status.status}


def _check_against_formulary(payload: dict[str, Any]) -> None:
    try:
        parse_order(payload)
    except StageInputError as exc:
        raise HTTPException(422, str(exc)) from exc
    drug = load_formulary().drug(payload["drug_code"])
    if drug is None:
        raise HTTPException(422, f"drug_code: {payload['drug_code']} is not on the formulary")
    if payload["route"] not in drug.routes:
        raise HTTPException(422, f"route: {drug.name} is stocked for {', '.join(drug.routes)}")
    if payload["unit"] != drug.dose_unit:
        raise HTTPException(422, f"unit: {drug.name} is dosed in {drug.dose_unit}")
    if payload["dose"] > drug.max_single_dose:
        raise HTTPException(422, f"dose: above the formulary's maximum single dose ({drug.max_single_dose} "
                                 f"{drug.dose_unit})")


@router.post("/medication-orders/{order_id}/cancel")
async def cancel_order(order_id: str, body: CancelIn, user: CurrentUser, services: Services) -> dict[str, Any]:
    """Stop a course: future doses are not given and unused stock goes back (once)."""
    order = await run_in_threadpool(_order, services, order_id)
    resource = await run_in_threadpool(patient_resource, services, "MedicationRequest", order["patient_id"],
                                       order_id)
    await authorize(services, user, action="update", resource=resource, subtype="medication.order.cancel")
    if user.role != "attending_physician":
        raise HTTPException(403, "only the attending physician cancels a medication order")
    handle = services.client().get_workflow_handle_for(PharmacyWorkflow.run, order["workflow_id"])
    state: PharmacyState = await run_update(
        handle, PharmacyWorkflow.cancel_order, CancelOrder(requested_by=user.user_id, reason=body.reason),
        errors={"InvalidTaskPayload": 422}, ended=f"order {order_id} has ended")
    return {"order_id": order_id, "status": state.status, "returned_units": state.returned_units,
            "doses_given": state.doses_given}


@router.get("/medication-orders/{order_id}")
async def get_order(order_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """An order with its status and safety findings (codes)."""
    order = await run_in_threadpool(_order, services, order_id)
    resource = await run_in_threadpool(patient_resource, services, "MedicationRequest", order["patient_id"],
                                       order_id)
    await authorize(services, user, action="read", resource=resource, subtype="medication.order.read")
    return order


@router.get("/pharmacy/worklist")
async def worklist(user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    """The pharmacist's queue: orders to verify and dispensing problems of current inpatients, due first."""
    await authorize(services, user, action="list", subtype="pharmacy.worklist",
                    resource={"type": "MedicationRequest", "inpatient": True, "task_role": "pharmacist"})
    return await run_in_threadpool(_worklist, services)


@router.get("/patients/{patient_id}/mar")
async def medication_administration_record(patient_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """The eMAR: every order of the patient and each scheduled dose with what was recorded."""
    await _require_patient(services, patient_id)
    resource = await run_in_threadpool(patient_resource, services, "MedicationAdministration", patient_id)
    await authorize(services, user, action="read", resource=resource, subtype="medication.mar.read")
    return await run_in_threadpool(_mar, services, patient_id)


@router.post("/patients/{patient_id}/allergies", status_code=201)
async def add_allergy(patient_id: str, body: AllergyIn, user: CurrentUser, services: Services) -> dict[str, str]:
    """Record an allergy to a formulary drug or drug class; later orders are checked against it."""
    await _require_patient(services, patient_id)
    resource = await run_in_threadpool(patient_resource, services, "AllergyIntolerance", patient_id)
    await authorize(services, user, action="create", resource=resource, subtype="allergy.create")
    f = load_formulary()
    is_class = body.code in f.classes
    if not is_class and f.drug(body.code) is None:
        raise HTTPException(422, f"code: {body.code!r} is neither a formulary RxNorm code nor a drug class")
    allergy_id = str(uuid.uuid4())
    values = {"id": allergy_id, "patient_id": patient_id, "code": body.code, "is_class": is_class,
              "criticality": body.criticality, "reaction": body.reaction, "status": "active",
              "recorded_by": user.user_id}
    await run_in_threadpool(_write, services, store.add_allergy, values)
    return {"id": allergy_id}


@router.get("/patients/{patient_id}/allergies")
async def list_allergies(patient_id: str, user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    """The patient's active allergies (codes)."""
    await _require_patient(services, patient_id)
    resource = await run_in_threadpool(patient_resource, services, "AllergyIntolerance", patient_id)
    await authorize(services, user, action="list", resource=resource, subtype="allergy.list")
    return await run_in_threadpool(_allergies, services, patient_id)


# --- reads ----------------------------------------------------------------------------------------


async def _require_patient(services: ApiServices, patient_id: str) -> None:
    from activities.storage import repository as repo

    def exists() -> bool:
        with services.sessions() as s:
            return len(patient_id) <= 36 and repo.get_patient(s, patient_id) is not None

    if not await run_in_threadpool(exists):
        raise HTTPException(404, f"patient {patient_id} not found")


def _write(services: ApiServices, fn: Any, values: dict[str, Any]) -> None:
    with services.sessions() as s, s.begin():
        fn(s, values, services.field_cipher)


def _order_out(s: Any, services: ApiServices, o: Any) -> dict[str, Any]:
    drug = load_formulary().drug(o.drug_code)
    return {"order_id": o.id, "patient_id": o.patient_id, "journey_id": o.journey_id, "workflow_id": o.workflow_id,
            "drug_code": o.drug_code, "drug_name": drug.name if drug else None, "dose": o.dose, "unit": o.unit,
            "route": o.route, "frequency_hours": o.frequency_hours, "doses": o.doses, "status": o.status,
            "hits": pharmacy_text.order_hits(s, services.field_cipher, o), "ordered_by": o.ordered_by,
            "verified_by": o.verified_by, "first_dose_at": o.first_dose_at, "created_at": o.created_at}


def _order(services: ApiServices, order_id: str) -> dict[str, Any]:
    with services.sessions() as s:
        o = store.get_order(s, order_id) if len(order_id) <= 60 else None
        if o is None:
            raise HTTPException(404, f"medication order {order_id} not found")
        return _order_out(s, services, o)


def _worklist(services: ApiServices) -> list[dict[str, Any]]:
    with services.sessions() as s:
        return [{"task_id": t.id, "type": t.type, "due": t.due, "ward": t.ward_id,
                 "requires_override": bool(t.details.get("requires_override")), **_order_out(s, services, o)}
                for t, o in store.pharmacist_worklist(s)]


def _mar(services: ApiServices, patient_id: str) -> dict[str, Any]:
    with services.sessions() as s:
        orders = store.orders_of_patient(s, patient_id)
        recorded = {a.id: a for a in store.administrations_of_patient(s, patient_id)}
        out = []
        for o in orders:
            entry = _order_out(s, services, o)
            times: list[datetime] = dose_times(o.first_dose_at, o.frequency_hours, o.doses) if o.first_dose_at else []
            doses = []
            for n, due in enumerate(times, start=1):
                a = recorded.get(f"medication-administration-{o.id}-{n}")
                status = a.status if a else ("not-given" if o.status in ("cancelled", "completed") else "scheduled")
                corrected = a is not None and a.entered_in_error_at is not None
                doses.append({"dose_number": n, "due": due, "status": "entered-in-error" if corrected else status,
                              "recorded_by": a.recorded_by if a else None, "recorded_at": a.recorded_at if a else None,
                              # a record marked entered in error stays, with what it said and who corrected it
                              "recorded_status": status if corrected else None,
                              "entered_in_error_by": a.entered_in_error_by if corrected else None,
                              "entered_in_error_at": a.entered_in_error_at if corrected else None,
                              "reason": pharmacy_text.administration_reason(s, services.field_cipher, a)
                              if a else None})
            entry["administrations"] = doses
            out.append(entry)
        return {"patient_id": patient_id, "orders": out}


def _allergies(services: ApiServices, patient_id: str) -> list[dict[str, Any]]:
    with services.sessions() as s:
        return [{"id": a.id, "code": a.code, "is_class": a.is_class, "criticality": a.criticality,
                 "reaction": pharmacy_text.allergy_reaction(s, services.field_cipher, a), "recorded_by": a.recorded_by, "recorded_at": a.recorded_at}
                for a in store.active_allergies(s, patient_id)]

"""Payloads of the pharmacy stage, its order validation and its dose schedule (pure, deterministic).

One dataclass per boundary; new fields get defaults so running courses keep replaying.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.exceptions import ApplicationError

from workflows.contracts import AuditContext
from workflows.stages import StageInputError

ROUTES = ("PO", "IV", "IM", "SC", "SL", "PR", "INH", "TOP")
UNITS = ("mg", "mcg", "g", "mL", "units", "mmol")
MAX_DOSES = 200
ORDER_FIELDS = {"drug_code", "dose", "unit", "route", "frequency_hours", "duration_days", "doses", "order_id",
                "first_dose_delay_minutes"}


@dataclass
class MedicationOrderSpec:
    """What the physician ordered (a FHIR MedicationRequest's dosage, as codes and numbers)."""

    drug_code: str
    dose: float
    unit: str
    route: str
    frequency_hours: int
    doses: int


@dataclass
class PharmacyInput:
    order_id: str
    journey_id: str
    patient_id: str
    encounter_id: str
    ward: str
    requested_by: str
    order: MedicationOrderSpec
    attending: str | None = None
    care_team_id: str | None = None
    verify_due_minutes: int = 60
    grace_minutes: int = 60
    first_dose_delay_minutes: int = 0


@dataclass
class PharmacyResult:
    order_id: str
    status: str  # completed | rejected | cancelled
    hits: list[dict[str, str]] = field(default_factory=list)
    dispensed_units: int = 0
    returned_units: int = 0
    doses_given: int = 0
    doses_not_given: int = 0
    escalations: int = 0
    reason: str | None = None


@dataclass
class PharmacyState:
    """What the ``order_state`` query shows: codes and counts, never clinical text."""

    order_id: str
    status: str
    hits: list[dict[str, str]] = field(default_factory=list)
    dispensed_units: int = 0
    returned_units: int = 0
    doses_opened: int = 0
    doses_given: int = 0
    escalations: int = 0


@dataclass
class CancelOrder:
    requested_by: str
    reason: str


# --- activities -----------------------------------------------------------------------------------


@dataclass
class OrderRecord:
    audit: AuditContext
    order_id: str
    patient_id: str
    encounter_id: str
    journey_id: str
    order: MedicationOrderSpec


@dataclass
class CheckInput:
    audit: AuditContext
    order_id: str
    patient_id: str
    drug_code: str
    dose: float = 0.0


@dataclass
class CheckResult:
    hits: list[dict[str, str]] = field(default_factory=list)
    units_per_dose: int = 1


@dataclass
class OrderStatusInput:
    audit: AuditContext
    order_id: str
    patient_id: str
    status: str
    by: str | None = None
    reason: str | None = None
    first_dose_at: datetime | None = None


@dataclass
class DispenseInput:
    audit: AuditContext
    order_id: str
    patient_id: str
    drug_code: str
    quantity: int
    idempotency_key: str


@dataclass
class DispenseResult:
    order_id: str
    drug_code: str
    quantity: int
    idempotency_key: str
    #: The billing idempotency key of this dispense (``dispense:<order id>``): a retried charge is one charge.
    charge_key: str = ""


@dataclass
class AdministrationInput:
    audit: AuditContext
    administration_id: str
    order_id: str
    patient_id: str
    dose_number: int
    due: datetime
    status: str  # given | held | refused | missed
    recorded_by: str
    at: datetime
    reason: str | None = None


@dataclass
class CloseOrderInput:
    audit: AuditContext
    order_id: str
    patient_id: str
    status: str  # completed | cancelled | rejected
    idempotency_key: str
    by: str | None = None
    reason: str | None = None


@dataclass
class CloseOrderResult:
    returned_units: int = 0


# --- pure rules -----------------------------------------------------------------------------------


def _number(payload: dict[str, Any], key: str) -> float:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StageInputError(f"payload.{key}: a number is required")
    return float(value)


def parse_order(payload: dict[str, Any]) -> MedicationOrderSpec:
    """Validate an order payload; ``StageInputError`` names the first bad field."""
    extra = sorted(set(payload) - ORDER_FIELDS)
    if extra:
        raise StageInputError(f"payload: unknown field(s) {', '.join(extra)}")
    code = payload.get("drug_code")
    if not isinstance(code, str) or not code.strip().isdigit() or len(code.strip()) > 12:
        raise StageInputError("payload.drug_code: an RxNorm ingredient code (digits) is required")
    dose = _number(payload, "dose")
    if dose <= 0:
        raise StageInputError("payload.dose: must be greater than 0")
    unit, route = payload.get("unit"), payload.get("route")
    if unit not in UNITS:
        raise StageInputError(f"payload.unit: one of {', '.join(UNITS)}")
    if route not in ROUTES:
        raise StageInputError(f"payload.route: one of {', '.join(ROUTES)}")
    freq = _number(payload, "frequency_hours")
    if freq != int(freq) or not 1 <= freq <= 168:
        raise StageInputError("payload.frequency_hours: a whole number of hours from 1 to 168")
    doses = doses_for(int(freq), payload)
    return MedicationOrderSpec(drug_code=code.strip(), dose=dose, unit=unit, route=route,
                               frequency_hours=int(freq), doses=doses)


def doses_for(frequency_hours: int, payload: dict[str, Any]) -> int:
    """Doses of the course: given directly, or every ``frequency_hours`` over ``duration_days``."""
    has_doses, has_days = payload.get("doses") is not None, payload.get("duration_days") is not None
    if has_doses == has_days:
        raise StageInputError("payload: exactly one of doses or duration_days is required")
    if has_doses:
        n = _number(payload, "doses")
        if n != int(n):
            raise StageInputError("payload.doses: a whole number is required")
    else:
        days = _number(payload, "duration_days")
        if days <= 0 or days > 60:
            raise StageInputError("payload.duration_days: more than 0 and at most 60")
        n = math.ceil(round(days * 24 / frequency_hours, 6))
    if not 1 <= n <= MAX_DOSES:
        raise StageInputError(f"payload.doses: the course must have 1 to {MAX_DOSES} doses")
    return int(n)


def dose_times(first: datetime, frequency_hours: int, doses: int) -> list[datetime]:
    """When each dose is due: the first at ``first``, then every ``frequency_hours``."""
    return [first + timedelta(hours=frequency_hours * n) for n in range(doses)]


def requires_override(hits: list[dict[str, str]]) -> bool:
    """Any interaction or allergy finding must be acknowledged with a reason before approval."""
    return bool(hits)


# --- task payloads --------------------------------------------------------------------------------

VERIFY, STOCK, DOSE, MISSED = "medication-verification", "medication-stock", "medication-administration", "missed-dose"

#: task type → (the choice field, its allowed values, the values that need a reason, the allowed fields)
TASK_PAYLOADS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], set[str]]] = {
    VERIFY: ("decision", ("approve", "reject"), ("reject",), {"decision", "reason", "override_reason", "note"}),
    STOCK: ("action", ("retry", "cancel"), ("cancel",), {"action", "reason"}),
    DOSE: ("status", ("given", "held", "refused"), ("held", "refused"), {"status", "reason", "note"}),
    MISSED: ("decision", ("continue", "cancel-order"), ("cancel-order",), {"decision", "reason"}),
}


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise ApplicationError(f"payload.{key}: 1 to 500 characters", type="InvalidTaskPayload")
    return value


def validate_payload(task_type: str, payload: dict[str, Any], override_needed: bool = False) -> None:
    """Refuse a bad task payload before it touches history (``InvalidTaskPayload`` → 422)."""
    field_name, allowed, need_reason, fields = TASK_PAYLOADS[task_type]
    extra = sorted(set(payload) - fields)
    if extra:
        raise ApplicationError(f"payload: unknown field(s) {', '.join(extra)}", type="InvalidTaskPayload")
    choice = payload.get(field_name)
    if choice not in allowed:
        raise ApplicationError(f"payload.{field_name}: one of {', '.join(allowed)}", type="InvalidTaskPayload")
    for key in fields - {field_name}:
        _text(payload, key)
    if choice in need_reason and payload.get("reason") is None:
        raise ApplicationError(f"payload.reason: required when {field_name} is {choice}", type="InvalidTaskPayload")
    if task_type == VERIFY and choice == "approve" and override_needed and payload.get("override_reason") is None:
        raise ApplicationError("payload.override_reason: the order has interaction or allergy findings "
                               "(see details.hits); approving requires an override reason", type="InvalidTaskPayload")

"""Activities of the pharmacy stage: thin adapters from workflow payloads to the pharmacy store.

Each commits its write, then appends one ledger entry (codes and identifiers only).
Business refusals are non-retryable ``ApplicationError``s the workflow turns into tasks.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import worker_event
from activities.crypto.fields import FieldCipher
from activities.formulary import Allergy, Formulary, load_formulary
from activities.storage import pharmacy as store
from ledger.base import Ledger
from workflows.pharmacy_contracts import (
    AdministrationInput,
    CheckInput,
    CheckResult,
    CloseOrderInput,
    CloseOrderResult,
    DispenseInput,
    DispenseResult,
    OrderRecord,
    OrderStatusInput,
)


class PharmacyActivities:
    """Orders, safety checks, dispensing, the MAR and stock returns."""

    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger,
                 formulary: Formulary | None = None, cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._formulary = formulary or load_formulary()
        self._cipher = cipher

    @activity.defn(name="pharmacy_create_order")
    def create_order(self, inp: OrderRecord) -> None:
        drug = self._formulary.drug(inp.order.drug_code)
        if drug is None:
            raise ApplicationError(f"drug {inp.order.drug_code} is not on the formulary", type="UnknownDrug",
                                   non_retryable=True)
        o = inp.order
        with self._sessions() as s, s.begin():
            store.create_order(s, {
                "id": inp.order_id, "patient_id": inp.patient_id, "encounter_id": inp.encounter_id,
                "journey_id": inp.journey_id, "workflow_id": activity.info().workflow_id, "drug_code": o.drug_code,
                "dose": o.dose, "unit": o.unit, "route": o.route, "frequency_hours": o.frequency_hours,
                "doses": o.doses, "units_per_dose": drug.units_per_dose(o.dose), "status": "pending-verification",
                "hits": [], "ordered_by": inp.audit.requested_by}, self._cipher)
        self._ledger.append(worker_event(inp.audit, subtype="medication.order", action="C",
                                         resource_type="MedicationRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))

    @activity.defn(name="pharmacy_check_order")
    def check_order(self, inp: CheckInput) -> CheckResult:
        """Allergy, cross-sensitivity and interaction findings against the patient's active orders."""
        if self._formulary.drug(inp.drug_code) is None:
            raise ApplicationError(f"drug {inp.drug_code} is not on the formulary", type="UnknownDrug",
                                   non_retryable=True)
        with self._sessions() as s, s.begin():
            active = store.active_drug_codes(s, inp.patient_id, inp.order_id)
            allergies = [Allergy(a.code, a.is_class) for a in store.active_allergies(s, inp.patient_id)]
            hits = [h.as_dict() for h in self._formulary.check(inp.drug_code, active, allergies)]
            store.set_order(s, inp.order_id, self._cipher, hits=hits)
        self._ledger.append(worker_event(inp.audit, subtype="medication.check", action="R",
                                         resource_type="MedicationRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))
        drug = self._formulary.drug(inp.drug_code)
        return CheckResult(hits=hits, units_per_dose=drug.units_per_dose(inp.dose) if drug and inp.dose > 0 else 1)

    @activity.defn(name="pharmacy_set_order_status")
    def set_order_status(self, inp: OrderStatusInput) -> None:
        values: dict[str, object] = {"status": inp.status}
        if inp.by:
            values["verified_by"] = inp.by
        if inp.reason is not None:
            values["status_reason"] = inp.reason
        if inp.first_dose_at is not None:
            values["first_dose_at"] = inp.first_dose_at
        with self._sessions() as s, s.begin():
            store.set_order(s, inp.order_id, self._cipher, **values)
        self._ledger.append(worker_event(inp.audit, subtype=f"medication.{inp.status}", action="U",
                                         resource_type="MedicationRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))

    @activity.defn(name="pharmacy_dispense")
    def dispense(self, inp: DispenseInput) -> DispenseResult:
        """Take the course's supply from stock exactly once (the idempotency key is the movement's key)."""
        try:
            with self._sessions() as s, s.begin():
                store.dispense(s, inp.order_id, inp.drug_code, inp.quantity, inp.idempotency_key)
        except store.InsufficientStock as exc:
            raise ApplicationError(str(exc), {"drug_code": exc.drug_code, "needed": exc.needed,
                                              "on_hand": exc.on_hand},
                                   type="InsufficientStock", non_retryable=True) from exc
        except store.OrderClosed as exc:
            raise ApplicationError(str(exc), type="OrderClosed", non_retryable=True) from exc
        self._ledger.append(worker_event(inp.audit, subtype="medication.dispense", action="C",
                                         resource_type="MedicationDispense", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))
        return DispenseResult(order_id=inp.order_id, drug_code=inp.drug_code, quantity=inp.quantity,
                              idempotency_key=inp.idempotency_key, charge_key=f"dispense:{inp.order_id}")

    @activity.defn(name="pharmacy_record_administration")
    def record_administration(self, inp: AdministrationInput) -> None:
        with self._sessions() as s, s.begin():
            store.record_administration(s, {
                "id": inp.administration_id, "order_id": inp.order_id, "patient_id": inp.patient_id,
                "dose_number": inp.dose_number, "due": inp.due, "status": inp.status, "reason": inp.reason,
                "recorded_by": inp.recorded_by, "recorded_at": inp.at}, self._cipher)
        self._ledger.append(worker_event(inp.audit, subtype=f"medication.administration.{inp.status}", action="C",
                                         resource_type="MedicationAdministration",
                                         resource_id=inp.administration_id, patient_id=inp.patient_id))

    @activity.defn(name="pharmacy_close_order")
    def close_order(self, inp: CloseOrderInput) -> CloseOrderResult:
        """Close the order and return unused dispensed stock once (compensation of the dispense)."""
        with self._sessions() as s, s.begin():
            returned = store.close_order(s, inp.order_id, inp.status, inp.idempotency_key, inp.reason,
                                         self._cipher)
        self._ledger.append(worker_event(inp.audit, subtype=f"medication.close.{inp.status}", action="U",
                                         resource_type="MedicationRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))
        return CloseOrderResult(returned_units=returned)

    def all(self) -> list[Callable[..., object]]:
        return [self.create_order, self.check_order, self.set_order_status, self.dispense,
                self.record_administration, self.close_order]

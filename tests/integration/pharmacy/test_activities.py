"""Pharmacy activities on real PostgreSQL: stock moves exactly once per idempotency key."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.pharmacy import PharmacyActivities
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.pharmacy.conftest import movements, on_hand
from workflows.contracts import AuditContext
from workflows.pharmacy_contracts import (
    AdministrationInput,
    CloseOrderInput,
    DispenseInput,
    MedicationOrderSpec,
    OrderRecord,
)

pytestmark = pytest.mark.integration


class Env:
    """Runs each call as a distinct activity execution (its own ledger event id)."""

    def run(self, fn, arg):  # noqa: ANN001, ANN201
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, workflow_id=f"wf-{uuid.uuid4()}", activity_id="1")
        return env.run(fn, arg)


DRUG = "6918"  # metoprolol: used by no other pharmacy test


@pytest.fixture
def order_id(db_engine: sa.Engine, ledger: EmbeddedLedger) -> str:
    """A stored order for a fresh patient and stay."""
    patient, encounter, order = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    with db_engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.patients (id, given, family, birth_date, gender) "
                          "VALUES (:p, 'A', 'B', '1970-01-01', 'female')"), {"p": patient})
        c.execute(sa.text("INSERT INTO hms.encounters (id, patient_id, journey_id, status, encounter_class, ward_id, "
                          "reason) VALUES (:e, :p, :j, 'in-progress', 'IMP', 'medical', 'r')"),
                  {"e": encounter, "p": patient, "j": f"journey-{encounter}"})
    acts = PharmacyActivities(make_session_factory(db_engine), ledger)
    Env().run(acts.create_order, OrderRecord(
        audit=AuditContext(journey_id=f"journey-{encounter}", requested_by="attending-1"), order_id=order,
        patient_id=patient, encounter_id=encounter, journey_id=f"journey-{encounter}",
        order=MedicationOrderSpec(drug_code=DRUG, dose=50, unit="mg", route="PO", frequency_hours=12, doses=4)))
    return order


def _patient(db_engine: sa.Engine, order_id: str) -> str:
    with db_engine.connect() as c:
        return c.execute(sa.text("SELECT patient_id FROM hms.medication_orders WHERE id = :o"), {"o": order_id}).scalar()


def test_dispense_and_return_move_stock_once_under_retries(db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                           order_id: str) -> None:
    acts, env = PharmacyActivities(make_session_factory(db_engine), ledger), Env()
    audit = AuditContext(journey_id="j", requested_by="pharmacist-1")
    patient = _patient(db_engine, order_id)
    before = on_hand(db_engine, DRUG)
    dispense = DispenseInput(audit=audit, order_id=order_id, patient_id=patient, drug_code=DRUG, quantity=8,
                             idempotency_key=f"dispense-{order_id}")
    first, again = env.run(acts.dispense, dispense), env.run(acts.dispense, dispense)
    assert first == again and first.charge_key == f"dispense:{order_id}"
    assert on_hand(db_engine, DRUG) == before - 8
    env.run(acts.record_administration, AdministrationInput(
        audit=audit, administration_id=f"{order_id}-1", order_id=order_id, patient_id=patient, dose_number=1,
        due=datetime.now(UTC), status="given", recorded_by="nurse-medical-1", at=datetime.now(UTC)))
    close = CloseOrderInput(audit=audit, order_id=order_id, patient_id=patient, status="cancelled",
                            idempotency_key=f"return-{order_id}")
    assert env.run(acts.close_order, close).returned_units == 6  # 3 doses × 2 tablets not given
    assert env.run(acts.close_order, close).returned_units == 6
    assert on_hand(db_engine, DRUG) == before - 2
    assert movements(db_engine, order_id) == [("dispense", -8), ("return", 6)]


def test_no_dispense_after_the_order_is_closed(db_engine: sa.Engine, ledger: EmbeddedLedger, order_id: str) -> None:
    acts, env = PharmacyActivities(make_session_factory(db_engine), ledger), Env()
    audit = AuditContext(journey_id="j", requested_by="attending-1")
    patient = _patient(db_engine, order_id)
    before = on_hand(db_engine, DRUG)
    assert env.run(acts.close_order, CloseOrderInput(audit=audit, order_id=order_id, patient_id=patient,
                                                     status="cancelled",
                                                     idempotency_key=f"return-{order_id}")).returned_units == 0
    with pytest.raises(ApplicationError) as info:
        env.run(acts.dispense, DispenseInput(audit=audit, order_id=order_id, patient_id=patient, drug_code=DRUG,
                                             quantity=8, idempotency_key=f"dispense-{order_id}"))
    assert info.value.type == "OrderClosed" and info.value.non_retryable
    assert on_hand(db_engine, DRUG) == before and movements(db_engine, order_id) == []


def test_stock_never_goes_negative(db_engine: sa.Engine, ledger: EmbeddedLedger, order_id: str) -> None:
    acts, env = PharmacyActivities(make_session_factory(db_engine), ledger), Env()
    patient = _patient(db_engine, order_id)
    before = on_hand(db_engine, DRUG)
    with pytest.raises(ApplicationError) as info:
        env.run(acts.dispense, DispenseInput(audit=AuditContext(journey_id="j", requested_by="p"), order_id=order_id,
                                             patient_id=patient, drug_code=DRUG, quantity=before + 1,
                                             idempotency_key=f"dispense-{order_id}"))
    assert info.value.type == "InsufficientStock" and info.value.details[0]["on_hand"] == before
    assert on_hand(db_engine, DRUG) == before and movements(db_engine, order_id) == []


def test_closing_an_order_that_was_never_stored_returns_nothing(db_engine: sa.Engine, ledger: EmbeddedLedger) -> None:
    acts = PharmacyActivities(make_session_factory(db_engine), ledger)
    missing = str(uuid.uuid4())
    result = Env().run(acts.close_order, CloseOrderInput(audit=AuditContext(journey_id="j", requested_by="a"),
                                                         order_id=missing, patient_id="p", status="cancelled",
                                                         idempotency_key=f"return-{missing}"))
    assert result.returned_units == 0 and movements(db_engine, missing) == []

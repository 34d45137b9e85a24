"""record_charge on the real store: one row per idempotency key, even under concurrent deliveries."""
from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.billing.helpers import charges_total
from workflows.billing_contracts import ChargeInput
from workflows.contracts import AuditContext

pytestmark = pytest.mark.integration


def run(acts: BillingActivities, inp: ChargeInput, activity_id: str):  # noqa: ANN201
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="pharmacy-test", activity_id=activity_id)
    return env.run(acts.record_charge, inp)


def charge(encounter_id: str, key: str, code: str = "RX-DISPENSE", quantity: int = 2) -> ChargeInput:
    return ChargeInput(audit=AuditContext(journey_id=f"journey-{encounter_id}", requested_by="pharmacist-1"),
                       idempotency_key=key, encounter_id=encounter_id, patient_id=str(uuid.uuid4()), code=code,
                       quantity=quantity, source="pharmacy", source_id=key)


def test_concurrent_deliveries_of_one_key_make_one_charge(db_engine: sa.Engine, ledger: EmbeddedLedger) -> None:
    acts = BillingActivities(make_session_factory(db_engine), ledger)
    enc = str(uuid.uuid4())
    key = f"dispense:{enc}:d-1"
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: run(acts, charge(enc, key), f"a-{enc}-{i}"), range(12)))
    assert sum(r.created for r in results) == 1 and len({r.charge_id for r in results}) == 1
    assert charges_total(db_engine, enc) == (1, Decimal("71.00"))


def test_refusals_are_final(db_engine: sa.Engine, ledger: EmbeddedLedger) -> None:
    acts = BillingActivities(make_session_factory(db_engine), ledger)
    enc, other = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(ApplicationError) as err:
        run(acts, charge(enc, f"x:{enc}", code="NOT-IN-TARIFF"), f"u-{enc}")
    assert err.value.type == "UnknownTariffCode" and err.value.non_retryable
    with pytest.raises(ApplicationError) as err:
        run(acts, charge(enc, f"q:{enc}", quantity=0), f"q-{enc}")
    assert err.value.type == "InvalidCharge"
    run(acts, charge(enc, f"k:{enc}"), f"k1-{enc}")
    with pytest.raises(ApplicationError) as err:
        run(acts, charge(other, f"k:{enc}"), f"k2-{enc}")
    assert err.value.type == "BillingConflict"
    assert charges_total(db_engine, enc)[0] == 1 and charges_total(db_engine, other)[0] == 0

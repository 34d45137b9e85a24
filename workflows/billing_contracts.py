"""Payloads of billing: charges (called by every stage that bills), invoice, claim, settlement.

Money crosses boundaries as ``Decimal`` (the pydantic converter carries it as a
string), so no amount is ever rounded by floating point on the way.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from workflows.contracts import AuditContext


@dataclass
class ChargeInput:
    """One billable event. ``idempotency_key`` is unique across the hospital: recording the same key
    again (a retry, a replay, a duplicate message) returns the first charge and charges nothing.

    Keys by convention: ``imaging:<study id>``, ``dispense:<dispense id>``, ``procedure:<id>``,
    ``bed-days:<encounter id>``. ``code`` must be in ``activities/billing_tariff.json``.
    """

    audit: AuditContext
    idempotency_key: str
    encounter_id: str
    patient_id: str
    code: str
    quantity: int = 1
    source: str = ""
    source_id: str = ""
    occurred_at: datetime | None = None


@dataclass
class ChargeResult:
    charge_id: str
    code: str
    quantity: int
    amount: Decimal
    currency: str
    created: bool


@dataclass
class BedDaysInput:
    audit: AuditContext
    encounter_id: str
    patient_id: str
    #: Used as the end of the stay only when the encounter has no end time yet.
    as_of: datetime


@dataclass
class InvoiceInput:
    audit: AuditContext
    invoice_id: str
    encounter_id: str
    patient_id: str
    at: datetime


@dataclass
class InvoiceResult:
    invoice_id: str
    total: Decimal
    currency: str
    charge_count: int


@dataclass
class ClaimInput:
    audit: AuditContext
    claim_id: str
    invoice_id: str
    patient_id: str
    at: datetime
    payer: str = "self-pay"


@dataclass
class ClaimResult:
    claim_id: str
    total: Decimal
    currency: str


@dataclass
class SettlementInput:
    audit: AuditContext
    claim_id: str
    patient_id: str
    outcome: str
    settled_by: str
    at: datetime
    paid_amount: Decimal | None = None
    denial_reason: str | None = None


@dataclass
class BillingInput:
    """What ``BillingWorkflow`` needs: the stay to bill, and who asked (the discharging attending)."""

    journey_id: str
    encounter_id: str
    patient_id: str
    requested_by: str
    payer: str = "self-pay"
    settlement_due_hours: int = 72


@dataclass
class BillingResult:
    invoice_id: str
    claim_id: str
    total: Decimal
    currency: str
    outcome: str
    paid_amount: Decimal | None = None

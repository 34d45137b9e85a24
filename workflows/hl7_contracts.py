"""Payloads of HL7 v2 ingestion: what the MLLP listener hands to ``Hl7IngestWorkflow``.

The listener parses and validates; the workflow only ever sees these dataclasses, never the
raw message (which stays out of logs, the ledger and workflow history). New fields get defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class Hl7Observation:
    """One OBX segment of an ORU^R01, as coded values (the FHIR mapping happens in the activity)."""

    set_id: str
    value_type: str
    code: str
    code_system: str = ""
    display: str = ""
    value: str = ""
    unit: str = ""
    reference_range: str = ""
    abnormal_flag: str = ""
    status: str = "F"
    effective: datetime | None = None


@dataclass
class Hl7Message:
    """A validated inbound message: MSH header, the patient (PID-3) and what the event needs."""

    control_id: str
    message_type: str
    trigger: str
    version: str
    sending_application: str
    sending_facility: str
    received_at: datetime
    identifier_system: str
    identifier_value: str
    #: The id a new patient gets (keyed HMAC of the identifier, as the task API derives it).
    derived_patient_id: str
    given: str = ""
    family: str = ""
    birth_date: date | None = None
    gender: str = ""
    ward: str | None = None
    attending: str | None = None
    patient_class: str = ""
    reason: str = ""
    observations: list[Hl7Observation] = field(default_factory=list)
    order_id: str | None = None
    order_code: str | None = None
    message_time: datetime | None = None
    #: ORC-1 order control: ``NW`` (new), ``CA``/``DC`` (cancel, discontinue); empty for other messages.
    order_control: str = ""
    #: The stage an order starts: ``imaging`` or ``pharmacy`` (mapped by ``api.hl7.orders``).
    order_kind: str = ""
    #: The stage payload, as the task API's imaging or medication order body would carry it (codes only).
    order_payload: dict[str, Any] = field(default_factory=dict)
    #: ORC-2.2 (entity namespace) of the placer order number; the sending facility when empty.
    order_namespace: str = ""
    #: ``HMS_HL7_DESTINATIONS`` when the message is an admission (the journey it starts sends outbound HL7).
    hl7_destinations: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return f"{self.message_type}^{self.trigger}"


@dataclass
class Hl7Outcome:
    """What became of one message (a query shows the latest ones; ids and codes only)."""

    control_id: str
    kind: str
    status: str  # applied | duplicate | skipped | failed
    note: str = ""
    ref: str | None = None


@dataclass
class Hl7IngestInput:
    """One patient's ingestion queue; a continued run carries the queue and the ids already seen."""

    patient_key: str
    requested_by: str = "hl7-interface"
    seen: list[str] = field(default_factory=list)
    pending: list[Hl7Message] = field(default_factory=list)
    outcomes: list[Hl7Outcome] = field(default_factory=list)
    processed: int = 0
    #: Continue as new after this many messages in one run (history stays small).
    continue_after: int = 200
    #: Messages handed over with the start (by an intake shard): received like signals, duplicates dropped.
    incoming: list[Hl7Message] = field(default_factory=list)


@dataclass
class Hl7IntakeInput:
    """An intake shard: batches of messages from the listener, forwarded in order to patients' inboxes."""

    shard: int
    requested_by: str = "hl7-interface"
    pending: list[list[Hl7Message]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    forwarded: int = 0
    continue_after: int = 500


@dataclass
class Hl7IngestState:
    patient_key: str
    processed: int
    pending: int
    outcomes: list[Hl7Outcome] = field(default_factory=list)


# --- activities -----------------------------------------------------------------------------------


@dataclass
class Hl7PatientLookup:
    identifier_system: str
    identifier_value: str
    derived_patient_id: str
    ward: str | None = None


@dataclass
class Hl7PatientFacts:
    patient_id: str
    exists: bool
    ward_known: bool = True
    active_encounter_id: str | None = None
    active_journey_id: str | None = None
    current_encounter_id: str | None = None


@dataclass
class Hl7DemographicsUpdate:
    control_id: str
    patient_id: str
    requested_by: str
    given: str = ""
    family: str = ""
    birth_date: date | None = None
    gender: str = ""


@dataclass
class Hl7ObservationBatch:
    control_id: str
    sending_facility: str
    patient_id: str
    encounter_id: str | None
    requested_by: str
    observations: list[Hl7Observation] = field(default_factory=list)
    fallback_time: datetime | None = None


@dataclass
class Hl7ObservationResult:
    observation_ids: list[str] = field(default_factory=list)
    created: int = 0


@dataclass
class Hl7OrderRecord:
    control_id: str
    kind: str
    patient_id: str
    encounter_id: str | None
    requested_by: str
    order_id: str | None = None
    order_code: str | None = None


@dataclass
class Hl7EncounterWait:
    journey_id: str


@dataclass
class Hl7Outbound:
    """One outbound message (ER7 text) to one destination ``host:port``; the key makes a resend harmless."""

    destination: str
    message: str
    control_id: str


@dataclass
class Hl7OutboundRequest:
    """An outbound message to build from the store: ``ADT^A01``, ``ADT^A03``, ``ORU^R01`` or ``ORM^O01``."""

    kind: str
    control_id: str
    patient_id: str
    encounter_id: str | None = None
    observation_ids: list[str] = field(default_factory=list)
    order_id: str | None = None
    order_code: str | None = None
    order_text: str | None = None


@dataclass
class Hl7OutboxInput:
    """One stay's outbound HL7: messages in order to each destination; a continued run carries what is left."""

    encounter_id: str
    destinations: list[str] = field(default_factory=list)
    pending: list[Hl7OutboundRequest] = field(default_factory=list)
    #: Control ids already taken (a message queued twice is sent once).
    seen: list[str] = field(default_factory=list)
    #: Ends once this many hours pass with nothing to send (the journey starts a new one if it sends again).
    idle_hours: int = 24 * 30
    continue_after: int = 100


@dataclass
class Hl7OutboxState:
    queued: int
    built: int
    delivered: dict[str, int] = field(default_factory=dict)
    closing: bool = False

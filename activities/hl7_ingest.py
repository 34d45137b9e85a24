"""Activities of HL7 v2 ingestion: patient resolution, demographics, results and orders.

Every write is idempotent (keyed by the message control id or the patient) and leaves a
ledger entry with ids only; message content never reaches the ledger or the logs.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import worker_event
from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.hl7_fhir import observation_resource
from activities.storage import repository as repo
from activities.storage.models import Patient
from ledger.base import Ledger
from workflows.contracts import AuditContext
from workflows.hl7_contracts import (
    Hl7DemographicsUpdate,
    Hl7EncounterWait,
    Hl7ObservationBatch,
    Hl7ObservationResult,
    Hl7OrderRecord,
    Hl7PatientFacts,
    Hl7PatientLookup,
)


def _audit(requested_by: str) -> AuditContext:
    return AuditContext(journey_id=activity.info().workflow_id or "hl7", requested_by=requested_by)


class Hl7IngestActivities:
    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger, cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._cipher = cipher or ephemeral_cipher()

    @activity.defn(name="hl7_resolve_patient")
    def hl7_resolve_patient(self, inp: Hl7PatientLookup) -> Hl7PatientFacts:
        """Who PID-3 names (the existing patient, else the id a new one gets) and their stay."""
        with self._sessions() as s:
            pid = repo.find_patient_by_identifier(s, self._cipher, inp.identifier_system, inp.identifier_value)
            exists = pid is not None
            if pid is None:
                pid = repo.unerased_id(s, self._cipher, inp.derived_patient_id)
            active = repo.active_encounter(s, pid) if exists else None
            current = active or (repo.current_encounter(s, pid) if exists else None)
            ward_known = inp.ward is None or inp.ward in repo.ward_ids(s)
        return Hl7PatientFacts(patient_id=pid, exists=exists, ward_known=ward_known,
                               active_encounter_id=active.id if active else None,
                               active_journey_id=active.journey_id if active else None,
                               current_encounter_id=current.id if current else None)

    @activity.defn(name="hl7_await_encounter")
    def hl7_await_encounter(self, inp: Hl7EncounterWait) -> str:
        """The encounter of a journey just started; retried (by policy) until admission created it."""
        enc = None
        for _ in range(50):  # a few seconds here spare a retry (and its backoff) in the common case
            with self._sessions() as s:
                enc = repo.encounter_by_journey(s, inp.journey_id)
            if enc is not None:
                break
            time.sleep(0.1)
        if enc is None:
            raise ApplicationError("the admission has not created its encounter yet", type="EncounterPending")
        return enc.id

    @activity.defn(name="hl7_update_demographics")
    def hl7_update_demographics(self, inp: Hl7DemographicsUpdate) -> bool:
        """ADT^A08: the fields the message carries replace the stored ones, encrypted under the patient's key."""
        plain = {"given": inp.given, "family": inp.family, "gender": inp.gender,
                 "birth_date": inp.birth_date.isoformat() if inp.birth_date else ""}
        plain = {k: v for k, v in plain.items() if v}
        with self._sessions() as s, s.begin():
            row = s.get(Patient, inp.patient_id, with_for_update=True)
            if row is None:
                raise ApplicationError("the patient is not registered", type="PatientUnknown", non_retryable=True)
            key = self._cipher.data_key(s, inp.patient_id)
            for column, text in plain.items():
                setattr(row, column, self._cipher.encrypt(key, "patients", column, inp.patient_id, text))
        self._ledger.append(worker_event(_audit(inp.requested_by), subtype="patient.update", action="U",
                                         resource_type="Patient", resource_id=inp.patient_id,
                                         patient_id=inp.patient_id))
        return bool(plain)

    @activity.defn(name="hl7_record_observations")
    def hl7_record_observations(self, inp: Hl7ObservationBatch) -> Hl7ObservationResult:
        """ORU^R01: each OBX as a FHIR Observation, idempotent by its HL7 identifier."""
        try:
            from activities.storage import observations_repo
        except ImportError as exc:
            raise ApplicationError("observation storage is not available in this build",
                                   type="ObservationsUnavailable", non_retryable=True) from exc
        ids: list[str] = []
        created = 0
        try:
            with self._sessions() as s, s.begin():  # all of the message's results, or none
                for obx in inp.observations:
                    obs = observation_resource(obx, facility=inp.sending_facility, control_id=inp.control_id,
                                               patient_id=inp.patient_id, encounter_id=inp.encounter_id,
                                               fallback_time=inp.fallback_time)
                    obs_id, new = observations_repo.record_observation(s, self._cipher, obs,
                                                                       recorded_by=inp.requested_by[:60])
                    ids.append(obs_id)
                    created += int(new)
        except observations_repo.InvalidObservation as exc:
            raise ApplicationError(f"a result could not be stored: {exc}", type="InvalidObservation",
                                   non_retryable=True) from None
        if created:
            self._ledger.append(worker_event(_audit(inp.requested_by), subtype="observation.hl7", action="C",
                                             resource_type="Observation", resource_id=ids[0] if ids else None,
                                             patient_id=inp.patient_id))
        return Hl7ObservationResult(observation_ids=ids, created=created)

    @activity.defn(name="hl7_record_order")
    def hl7_record_order(self, inp: Hl7OrderRecord) -> str:
        """ORM^O01 / OML^O21: recorded in the ledger (ids only); see the package README for orders."""
        self._ledger.append(worker_event(_audit(inp.requested_by), subtype="order.hl7-received", action="C",
                                         resource_type="ServiceRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))
        return "order recorded (no order workflow is started from HL7 yet)"

    def all(self) -> list[Callable[..., Any]]:
        return [self.hl7_resolve_patient, self.hl7_await_encounter, self.hl7_update_demographics,
                self.hl7_record_observations, self.hl7_record_order]

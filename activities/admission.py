"""Activities of the admission journey: thin adapters from workflow payloads to the store.

Each commits its write, then appends its ledger entry; a retry after a crash
between the two finds the write already done and appends the missing entry.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import worker_event
from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import repository as repo
from activities.storage import tasks as task_store
from ledger.base import Ledger
from workflows.contracts import (
    BedRequest,
    BedResult,
    CareTeamInput,
    CareTeamResult,
    ConsentInput,
    EncounterInput,
    EncounterStatusInput,
    RegisterPatientInput,
    RegisterPatientResult,
    TaskRecord,
)

SessionFactory = Callable[[], AbstractContextManager[Session]]


class AdmissionActivities:
    """Storage, task-inbox and audit side effects of admitting a patient."""

    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger,
                 cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._cipher = cipher or ephemeral_cipher()

    @activity.defn(name="register_patient")
    def register_patient(self, inp: RegisterPatientInput) -> RegisterPatientResult:
        p = inp.patient
        with self._sessions() as s, s.begin():
            patient_id, created = repo.register_patient(
                s, self._cipher, inp.patient_id, p.identifier_system, p.identifier_value, p.given, p.family,
                p.birth_date, p.gender)
        self._ledger.append(worker_event(inp.audit, subtype="patient.register", action="C" if created else "R",
                                         resource_type="Patient", resource_id=patient_id, patient_id=patient_id))
        return RegisterPatientResult(patient_id=patient_id, created=created)

    @activity.defn(name="record_consent")
    def record_consent(self, inp: ConsentInput) -> None:
        with self._sessions() as s, s.begin():
            repo.record_consent(s, inp.consent_id, inp.patient_id, inp.purpose, inp.granted, inp.audit.requested_by)
        self._ledger.append(worker_event(inp.audit, subtype="consent.record", action="C", resource_type="Consent",
                                         resource_id=inp.consent_id, patient_id=inp.patient_id))

    @activity.defn(name="create_encounter")
    def create_encounter(self, inp: EncounterInput) -> None:
        try:
            with self._sessions() as s, s.begin():
                repo.create_encounter(s, inp.encounter_id, inp.patient_id, inp.audit.journey_id, inp.ward, inp.reason,
                                      self._cipher)
        except repo.StorageConflict as exc:
            raise ApplicationError(str(exc), type="AdmissionRefused", non_retryable=True) from exc
        self._ledger.append(worker_event(inp.audit, subtype="encounter.create", action="C", resource_type="Encounter",
                                         resource_id=inp.encounter_id, patient_id=inp.patient_id))

    @activity.defn(name="assign_care_team")
    def assign_care_team(self, inp: CareTeamInput) -> CareTeamResult:
        try:
            with self._sessions() as s, s.begin():
                attending, team = repo.assign_care_team(s, inp.encounter_id, inp.ward, inp.attending)
        except repo.StorageConflict as exc:
            raise ApplicationError(str(exc), type="CareTeamUnavailable", non_retryable=True) from exc
        self._ledger.append(worker_event(inp.audit, subtype="encounter.care-team", action="U",
                                         resource_type="Encounter", resource_id=inp.encounter_id,
                                         patient_id=inp.patient_id))
        return CareTeamResult(attending=attending, care_team_id=team)

    @activity.defn(name="assign_bed")
    def assign_bed(self, inp: BedRequest) -> BedResult:
        with self._sessions() as s, s.begin():
            bed = repo.assign_bed(s, inp.encounter_id, inp.ward, inp.bed_id)
        if bed is None:
            reason = f"bed {inp.bed_id} is not free on ward {inp.ward}" if inp.bed_id else f"no free bed on {inp.ward}"
            return BedResult(bed_id=None, reason=reason)
        self._ledger.append(worker_event(inp.audit, subtype="encounter.bed", action="U", resource_type="Encounter",
                                         resource_id=inp.encounter_id, patient_id=inp.patient_id))
        return BedResult(bed_id=bed)

    @activity.defn(name="set_encounter_status")
    def set_encounter_status(self, inp: EncounterStatusInput) -> None:
        with self._sessions() as s, s.begin():
            repo.set_encounter_status(s, inp.encounter_id, inp.status, inp.at)
        self._ledger.append(worker_event(inp.audit, subtype=f"encounter.{inp.status}", action="U",
                                         resource_type="Encounter", resource_id=inp.encounter_id,
                                         patient_id=inp.patient_id))

    @activity.defn(name="upsert_task")
    def upsert_task(self, task: TaskRecord) -> None:
        values = {
            "id": task.id, "type": task.type, "role": task.role, "ward_id": task.ward,
            "patient_id": task.patient_id, "encounter_id": task.encounter_id, "journey_id": task.journey_id,
            "workflow_id": task.workflow_id, "status": task.status, "due": task.due, "details": task.details,
            "created_at": task.created_at, "completed_at": task.completed_at, "completed_by": task.completed_by,
        }
        with self._sessions() as s, s.begin():
            task_store.upsert_task(s, values, self._cipher)

    def all(self) -> list[Callable[..., object]]:
        return [self.register_patient, self.record_consent, self.create_encounter, self.assign_care_team,
                self.assign_bed, self.set_encounter_status, self.upsert_task]

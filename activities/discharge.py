"""Discharge activities: the pending-results check, the discharge summary, the bed hand-over.

Each write is idempotent (the summary by encounter, cleaning by bed and stay) and
commits before its ledger entry, which carries ids only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.orm import Session
from temporalio import activity

from activities.billing import audit_event
from activities.discharge_fhir import build_composition, pending_results, security_labels
from activities.storage import discharge_repo as repo
from ledger.base import Ledger
from workflows.discharge_contracts import (
    BedHandoverInput,
    BedHandoverResult,
    PendingResultsInput,
    PendingResultsResult,
    SummaryInput,
    SummaryResult,
    WaitingAdmissionsInput,
    WaitingAdmissionsResult,
)
from workflows.stages import StageStatus


class DischargeActivities:
    """Side effects of discharging a patient."""

    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger) -> None:
        self._sessions = session_factory
        self._ledger = ledger

    @activity.defn(name="check_pending_results")
    def check_pending_results(self, inp: PendingResultsInput) -> PendingResultsResult:
        """Critical results still pending: running imaging, or a flagged study not yet reported."""
        return PendingResultsResult(blockers=pending_results([_checkable(st) for st in inp.stages]))

    @activity.defn(name="generate_discharge_summary")
    def generate_discharge_summary(self, inp: SummaryInput) -> SummaryResult:
        """Build, validate and store the discharge summary Composition once per stay."""
        resource = build_composition(
            inp.composition_id, patient_id=inp.patient_id, encounter_id=inp.encounter_id, ward=inp.ward,
            attending=inp.attending, at=inp.at, stages=inp.stages, medications=inp.medications,
            follow_up_date=inp.follow_up_date, follow_up_clinic=inp.follow_up_clinic)
        with self._sessions() as s, s.begin():
            created = repo.store_summary(s, composition_id=inp.composition_id, encounter_id=inp.encounter_id,
                                         journey_id=inp.journey_id, patient_id=inp.patient_id,
                                         security=security_labels(inp.ward), resource=resource, at=inp.at)
        self._ledger.append(audit_event(inp.audit, subtype="discharge.summary", action="C",
                                         resource_type="Composition", resource_id=inp.composition_id,
                                         patient_id=inp.patient_id))
        return SummaryResult(composition_id=inp.composition_id, created=created)

    @activity.defn(name="start_bed_cleaning")
    def start_bed_cleaning(self, inp: BedHandoverInput) -> BedHandoverResult:
        """The leaving stay's bed goes to cleaning: still held, so nobody is admitted into it."""
        with self._sessions() as s, s.begin():
            bed_id = repo.start_cleaning(s, inp.encounter_id, inp.at)
        self._ledger.append(audit_event(inp.audit, subtype="bed.cleaning", action="U", resource_type="Encounter",
                                         resource_id=inp.encounter_id, patient_id=inp.patient_id))
        return BedHandoverResult(bed_id=bed_id, status="cleaning" if bed_id else "none")

    @activity.defn(name="release_bed")
    def release_bed(self, inp: BedHandoverInput) -> BedHandoverResult:
        """Cleaning done: the bed becomes available to the next admission."""
        with self._sessions() as s, s.begin():
            bed_id = repo.release_bed(s, inp.encounter_id, inp.completed_by, inp.at)
        self._ledger.append(audit_event(inp.audit, subtype="bed.available", action="U", resource_type="Encounter",
                                         resource_id=inp.encounter_id, patient_id=inp.patient_id))
        return BedHandoverResult(bed_id=bed_id, status="available")

    @activity.defn(name="waiting_admissions")
    def waiting_admissions(self, inp: WaitingAdmissionsInput) -> WaitingAdmissionsResult:
        """Admissions on the ward still waiting for a bed (a read of ids; nothing changes, nothing to audit)."""
        with self._sessions() as s:
            found = repo.waiting_admissions(s, inp.ward, inp.freed_by_encounter_id, inp.limit)
        return WaitingAdmissionsResult(encounter_ids=found)

    def all(self) -> list[Callable[..., object]]:
        return [self.check_pending_results, self.generate_discharge_summary, self.start_bed_cleaning,
                self.release_bed, self.waiting_admissions]


def _checkable(stage: StageStatus) -> StageStatus:
    """An imaging stage as the check reads it.

    The journey keeps ImagingWorkflow's summary (``ai_flagged``, ``report_id``, …); the check reads
    ``flagged`` and ``reported``. Fields the summary already names that way are left alone.
    """
    result = stage.result
    if stage.kind != "imaging" or not result:
        return stage
    extra = {}
    if "flagged" not in result and "priority" not in result and "ai_flagged" in result:
        extra["flagged"] = bool(result.get("ai_flagged"))
    if "reported" not in result and "report_status" not in result and "report_id" in result:
        extra["reported"] = result.get("report_id") is not None
    return replace(stage, result={**result, **extra}) if extra else stage

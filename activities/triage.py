"""Activities of triage and pre-triage intake: inference (NEWS2 + ESI), storage and audit.

Inference activities have no side effect and may run again freely. Storage activities
write with ids chosen by the workflow, then append one ledger entry per resource written
(identifiers and codes only, never vitals or complaint text).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import worker_event
from activities.crypto.fields import FieldCipher
from activities.storage import triage_store
from ledger.base import Ledger
from ml.triage.schema import InvalidInput, TriageInput
from ml.triage.text import RED_FLAG_LEXICON, normalise, red_flags, split_negation
from workflows import intake_questions as bank
from workflows.triage_contracts import (
    AssessInput,
    AssessResult,
    IntakeScreenInput,
    IntakeScreenResult,
    LinkEncounterInput,
    RecordAssessmentInput,
    SaveDraftInput,
)


class TriageActivities:
    """NEWS2/ESI inference with the shipped model, and the triage record with its ledger entries."""

    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger, models: Any,
                 cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._models = models
        self._cipher = cipher

    @activity.defn(name="triage_assess")
    def assess(self, inp: AssessInput) -> AssessResult:
        if self._models is None:
            raise ApplicationError("the decision-support models are not loaded on this worker", type="ModelsUnavailable")
        try:
            request = TriageInput.from_mapping(inp.vitals)
        except InvalidInput as exc:
            raise ApplicationError(str(exc), type="InvalidTaskPayload", non_retryable=True) from exc
        result = self._models.triage.score(request)
        return AssessResult(news2=result.news2, news2_band=result.news2_band, esi_suggested=result.esi_suggested,
                            red_flags=list(result.red_flags), model_version=result.model_version,
                            parameter_scores=dict(result.parameter_scores))

    @activity.defn(name="triage_record_assessment")
    def record_assessment(self, inp: RecordAssessmentInput) -> None:
        observation_id = f"{inp.assessment_id}-vitals"
        vitals = {"id": observation_id, "patient_id": inp.patient_id, "encounter_id": inp.encounter_id,
                  "triage_id": inp.triage_id, "status": "final", "values": inp.vitals,
                  "effective_at": inp.assessed_at, "recorded_by": inp.assessed_by}
        assessment = {"id": inp.assessment_id, "triage_id": inp.triage_id, "patient_id": inp.patient_id,
                      "encounter_id": inp.encounter_id, "sequence": inp.sequence, "kind": inp.kind,
                      "observation_id": observation_id, "news2": inp.news2, "news2_band": inp.news2_band,
                      "esi_suggested": inp.esi_suggested, "esi_final": inp.esi_final,
                      "override_reason": inp.override_reason, "red_flags": inp.red_flags,
                      "model_version": inp.model_version, "assessed_by": inp.assessed_by,
                      "assessed_at": inp.assessed_at}
        with self._sessions() as s, s.begin():
            triage_store.record_assessment(s, assessment=assessment, vitals=vitals, cipher=self._cipher)
        self._ledger.append(worker_event(inp.audit, subtype="triage.vitals", action="C", resource_type="Observation",
                                         resource_id=observation_id, patient_id=inp.patient_id))
        self._ledger.append(worker_event(inp.audit, subtype=f"triage.{inp.kind}", action="C",
                                         resource_type="TriageScore", resource_id=inp.assessment_id,
                                         patient_id=inp.patient_id))

    @activity.defn(name="triage_link_encounter")
    def link_encounter(self, inp: LinkEncounterInput) -> None:
        with self._sessions() as s, s.begin():
            triage_store.link_encounter(s, inp.triage_id, inp.encounter_id)
        self._ledger.append(worker_event(inp.audit, subtype="triage.link-encounter", action="U",
                                         resource_type="TriageScore", resource_id=inp.triage_id,
                                         patient_id=inp.patient_id))

    def all(self) -> list[Callable[..., object]]:
        return [self.assess, self.record_assessment, self.link_encounter]


def text_red_flags(text: str) -> dict[str, int]:
    """Red-flag codes (with ESI ceilings) the triage model's lexicon finds affirmed in free text."""
    affirmed, _negated = split_negation(normalise(text))
    return red_flags(affirmed)


class IntakeActivities:
    """Red-flag screening of intake answers, and the intake draft with its ledger entry."""

    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger,
                 cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._cipher = cipher

    @activity.defn(name="intake_screen")
    def screen(self, inp: IntakeScreenInput) -> IntakeScreenResult:
        ceilings = text_red_flags(inp.complaint)
        for value in inp.answers.values():
            if isinstance(value, str) and value:
                ceilings.update(text_red_flags(value))
        for code in bank.question_red_flags(inp.category, inp.answers):
            ceilings[code] = min(ceilings.get(code, 5), bank.FLAG_CEILINGS.get(code, 2))
        esi = bank.suggested_esi(inp.category, inp.answers, ceilings)
        return IntakeScreenResult(red_flags=sorted(ceilings), esi_suggested=esi)

    @activity.defn(name="intake_save_draft")
    def save_draft(self, inp: SaveDraftInput) -> None:
        values = {"id": inp.intake_id, "patient_id": inp.patient_id, "status": inp.status,
                  "complaint": inp.complaint, "category": inp.category, "answers": inp.answers,
                  "red_flags": inp.red_flags, "esi_suggested": inp.esi_suggested, "triage_id": inp.triage_id,
                  "created_by": inp.audit.requested_by, "updated_at": inp.updated_at}
        with self._sessions() as s, s.begin():
            created = triage_store.save_intake_draft(s, values, self._cipher)
        self._ledger.append(worker_event(inp.audit, subtype=f"intake.{inp.status}", action="C" if created else "U",
                                         resource_type="QuestionnaireResponse", resource_id=inp.intake_id,
                                         patient_id=inp.patient_id))

    def all(self) -> list[Callable[..., object]]:
        return [self.screen, self.save_draft]


#: Every red-flag code the intake can raise, for documentation and tests.
KNOWN_FLAGS = sorted(set(RED_FLAG_LEXICON) | set(bank.FLAG_CEILINGS))

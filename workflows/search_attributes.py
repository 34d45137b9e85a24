"""Custom search attributes the task inbox and operators use to find journeys.

Values are internal identifiers and codes only, never patient-identifying data:
engineers see them in the Temporal UI.
"""
from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

PATIENT_ID = SearchAttributeKey.for_keyword("HmsPatientId")
WARD = SearchAttributeKey.for_keyword("HmsWard")
STAGE = SearchAttributeKey.for_keyword("HmsStage")
OPEN_TASK_ROLES = SearchAttributeKey.for_keyword_list("HmsOpenTaskRoles")
#: Triage acuity as ``ESI-1`` … ``ESI-5`` (set by TriageWorkflow once the nurse confirms it).
ACUITY = SearchAttributeKey.for_keyword("HmsAcuity")

#: name → type, as ``temporal server start-dev --search-attribute NAME=TYPE`` takes them.
SEARCH_ATTRIBUTES: dict[str, str] = {
    PATIENT_ID.name: "Keyword",
    WARD.name: "Keyword",
    STAGE.name: "Keyword",
    OPEN_TASK_ROLES.name: "KeywordList",
    ACUITY.name: "Keyword",
}


def journey_attributes(*, patient_id: str, ward: str, stage: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(PATIENT_ID, patient_id), SearchAttributePair(WARD, ward),
                                  SearchAttributePair(STAGE, stage)])

"""Results reach the journey: a lab's Observation (FHIR) or ORU^R01 (HL7) is signalled to the stay.

``result_posted`` records the result's ids and codes in the journey state (the values stay in
the encrypted observation store), once per observation id (a resent result updates its status
and interpretation). A critical result (``HH``, ``LL``, ``AA``) while the patient is admitted
starts a ``result-review`` stage (:mod:`workflows.result_review`): the physician is tasked
and chased until they have seen it. Results after discharge began are recorded only.

A signal handler adds no command to histories without the signal, so journeys recorded before
this existed replay unchanged.
"""
from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import ResultNotice
    from workflows.result_review import CRITICAL
    from workflows.stages import StageRequest

#: The journey state keeps the latest results only (it travels through continue-as-new).
MAX_RESULTS = 200


class JourneyResults:
    """Mixin of ``PatientJourney``: needs ``_require_state``, ``_launch``, ``_discharge``, ``_checklist_running``."""

    @workflow.signal
    async def result_posted(self, notice: ResultNotice) -> None:
        state = self._require_state()  # type: ignore[attr-defined]
        for known in state.results:
            if known.observation_id == notice.observation_id:
                changed = known.status != notice.status
                known.status, known.interpretation = notice.status, notice.interpretation
                break
        else:
            changed = True
            notice.received_at = workflow.now()
            state.results.append(notice)
            del state.results[:-MAX_RESULTS]
        if changed:
            self._hl7_result(notice)  # type: ignore[attr-defined]
        if notice.interpretation in CRITICAL and self._may_review():
            await self._launch(StageRequest(  # type: ignore[attr-defined]
                kind="result-review", stage_id=notice.observation_id[:80], requested_by=f"result:{notice.source}",
                payload={"observation_id": notice.observation_id[:80], "code": notice.code[:80],
                         "interpretation": notice.interpretation}))

    @workflow.signal
    async def results_posted(self, notices: list[ResultNotice]) -> None:
        """Several results in one signal (a FHIR Bundle's Observations), each handled as ``result_posted``: a
        transaction of fifty results is one signal to the stay, not fifty."""
        for notice in notices:
            await self.result_posted(notice)

    def _may_review(self) -> bool:
        state = self._require_state()  # type: ignore[attr-defined]
        return (state.stage == "admitted" and self._discharge is None  # type: ignore[attr-defined]
                and not self._checklist_running())  # type: ignore[attr-defined]


__all__ = ["JourneyResults", "MAX_RESULTS"]

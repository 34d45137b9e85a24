"""ResultReviewWorkflow: a critical result must be seen by the patient's physician, and is chased until it is.

A lab result whose interpretation is critical (HL7 table 0078 / FHIR ObservationInterpretation
``HH``, ``LL`` or ``AA``) reaches the journey (``PatientJourney.result_posted``, from the FHIR
API or an HL7 ORU^R01), which starts this stage (kind ``result-review``). It opens a
``review-critical-result`` task for the attending_physician role; the physician acknowledges it
through the task API with ``{"action": "acknowledged" | "acted", "note"?}``. If nobody has in
``due_minutes``, the task is escalated (its details say so and when, and it is due again in the
same time), up to ``max_escalations`` times, and stays open: a critical result is never closed
for the physician. Discharge cancels the stage; its open task is cancelled with it.

The task's details carry codes and ids only (observation id, code, interpretation); the value
stays in the encrypted observation store.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import TaskCompletion, TaskCompletionResult
    from workflows.stages import JourneyContext, StageInputError, StageRequest, StageSpec
    from workflows.task_book import TaskBook, invalid, only_fields

TASK = "review-critical-result"
ROLE = "attending_physician"
ACTIONS = ("acknowledged", "acted")
#: Interpretations that make a result critical (HL7 v2 table 0078, FHIR v3 ObservationInterpretation).
CRITICAL = frozenset({"HH", "LL", "AA"})


@dataclass
class ResultReviewInput:
    review_id: str
    patient_id: str
    journey_id: str
    encounter_id: str
    ward: str
    observation_id: str
    code: str
    interpretation: str
    attending: str | None = None
    #: Minutes until the task is due (and between escalations); a fraction of a minute in tests.
    due_minutes: float = 30
    max_escalations: int = 3


@dataclass
class ResultReviewState:
    review_id: str
    observation_id: str
    status: str = "open"
    escalations: int = 0
    reviewed_by: str | None = None
    action: str | None = None
    open_tasks: list[str] = field(default_factory=list)


@workflow.defn(name="ResultReviewWorkflow")
class ResultReviewWorkflow:
    def __init__(self) -> None:
        self._inp: ResultReviewInput | None = None
        self._state: ResultReviewState | None = None
        self._book = TaskBook()

    @workflow.run
    async def run(self, inp: ResultReviewInput) -> ResultReviewState:
        self._inp = inp
        state = self._state = ResultReviewState(review_id=inp.review_id, observation_id=inp.observation_id)
        task_id = f"{TASK}-{inp.review_id}"
        details: dict[str, Any] = {"observation_id": inp.observation_id, "code": inp.code,
                                   "interpretation": inp.interpretation, "attending": inp.attending}
        try:
            task = await self._book.open(task_id=task_id, type=TASK, role=ROLE, patient_id=inp.patient_id,
                                         journey_id=inp.journey_id, encounter_id=inp.encounter_id, ward=inp.ward,
                                         due_minutes=inp.due_minutes, details=details)
            while state.status == "open":
                chase = state.escalations < inp.max_escalations
                try:
                    await workflow.wait_condition(lambda: state.status != "open",
                                                  timeout=timedelta(minutes=inp.due_minutes) if chase else None)
                except TimeoutError:
                    state.escalations += 1
                    await self._book.refresh(task, due_minutes=inp.due_minutes, details={
                        **details, "escalation_level": state.escalations,
                        "escalated_at": workflow.now().isoformat()})
        except asyncio.CancelledError:
            await self._book.cancel_open()  # discharge: nobody is left chasing a result of a closed stay
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """The physician saw the result: ``{"action": "acknowledged" | "acted", "note"?}``."""
        task = self._book.claim(done)
        await self._book.complete(task, done.actor)
        state = self._require_state()
        state.status, state.reviewed_by, state.action = "reviewed", done.actor, str(done.payload["action"])
        return TaskCompletionResult(task_id=task.id, status="completed",
                                    result={"observation_id": state.observation_id, "action": state.action})

    @complete_task.validator
    def _validate(self, done: TaskCompletion) -> None:
        self._book.require_open(done)
        p: dict[str, Any] = done.payload
        only_fields(p, {"action", "note"})
        if p.get("action") not in ACTIONS:
            raise invalid(f"payload.action: one of {', '.join(ACTIONS)}")
        note = p.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            raise invalid("payload.note: text of at most 500 characters")

    @workflow.query
    def state(self) -> ResultReviewState:
        state = self._require_state()
        state.open_tasks = self._book.open_ids()
        return state

    def _require_state(self) -> ResultReviewState:
        if self._state is None:
            raise ApplicationError("review has not started", type="NotStarted")
        return self._state


def build_input(ctx: JourneyContext, request: StageRequest) -> ResultReviewInput:
    """Pure: the review of one critical result (``StageInputError`` on a bad payload)."""
    p = request.payload
    extra = sorted(set(p) - {"observation_id", "code", "interpretation"})
    if extra:
        raise StageInputError(f"payload: unknown field(s) {', '.join(extra)} (observation_id, code, interpretation)")
    for name in ("observation_id", "code"):
        if not isinstance(p.get(name), str) or not 0 < len(p[name]) <= 80:
            raise StageInputError(f"payload.{name}: 1 to 80 characters")
    if p.get("interpretation") not in CRITICAL:
        raise StageInputError(f"payload.interpretation: one of {', '.join(sorted(CRITICAL))} (a critical result)")
    return ResultReviewInput(review_id=request.stage_id, patient_id=ctx.patient_id, journey_id=ctx.journey_id,
                             encounter_id=ctx.encounter_id, ward=ctx.ward, observation_id=p["observation_id"],
                             code=p["code"], interpretation=p["interpretation"], attending=ctx.attending)


def summarize(result: Any) -> dict[str, Any]:
    data = result if isinstance(result, dict) else vars(result)
    return {"observation_id": data.get("observation_id"), "status": data.get("status"),
            "action": data.get("action"), "escalations": data.get("escalations")}


RESULT_REVIEW_STAGE = StageSpec(workflow_type="ResultReviewWorkflow", build_input=build_input, summarize=summarize)

"""ImagingWorkflow: order → study → AI pre-screen → radiologist report, with SLA escalation.

A journey stage of kind ``imaging`` (workflow id ``imaging-<order id>``). The physician's order
becomes a ServiceRequest assigned to a radiologist; the study arrives through the
``attach_study`` update; the pre-screen (decision support) sets the report task's priority and
its SLA (30 min when flagged or urgent, else 24 h); a breach hands the read to another
radiologist and is recorded; the report is the task's ``complete_task`` update.

Billing: the study is charged once (``imaging:<study id>``) as soon as it is received, before the
pre-screen and the read. Acquisition is the billable event (scanner, staff, the patient's dose);
the pre-screen is decision support and the read may still be handed over or cut short by
discharge, so neither decides whether the study is billed. An order revoked before its study
arrived has no study and is never charged; one revoked after still is.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from activities.billing import BillingActivities
    from activities.imaging import ImagingActivities
    from workflows import search_attributes as sa
    from workflows.billing import BILLING_ACTIVITY
    from workflows.billing_contracts import ChargeInput
    from workflows.contracts import AuditContext, TaskCompletion, TaskCompletionResult, TaskRecord
    from workflows.imaging_contracts import (
        CODE_PATTERN,
        MODALITIES,
        PRIORITIES,
        REPORT_TASK,
        EscalationInput,
        ImagingInput,
        ImagingResult,
        ImagingState,
        OrderInput,
        OrderStatusInput,
        PrescreenInput,
        PrescreenResult,
        ReportInput,
        StudyAttached,
        StudyAttachment,
        StudyInput,
        report_task_id,
    )
    from workflows.options import STORAGE
    from workflows.stages import JourneyContext, StageInputError, StageRequest, StageSpec

INFERENCE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3,
                              non_retryable_error_types=["InvalidStudy"])
REPORT_FIELDS = {"findings_code", "impression", "conclusion", "abnormal"}
MAX_TEXT = 4000
#: Patch of the study charge: orders whose study arrived before it replay without one.
STUDY_CHARGE_PATCH = "imaging-study-charge"
#: Patch that lets a cancellation during the pre-screen end the order (it used to be taken for a failed score).
PRESCREEN_CANCEL_PATCH = "imaging-prescreen-cancel"


#: Tariff code (activities/billing_tariff.json) of a study by DICOM modality.
CHARGE_CODES = {"CR": "IMG-XR", "DX": "IMG-XR", "CT": "IMG-CT", "MR": "IMG-MR", "US": "IMG-US"}


def study_charge_key(study_id: str) -> str:
    """Idempotency key of the one charge per imaging study (billing's ``imaging:<study id>`` convention)."""
    return f"imaging:{study_id}"


def study_charge_code(modality: str) -> str:
    """The tariff code of a study; a modality the tariff does not price separately is ``IMG-OTHER``."""
    return CHARGE_CODES.get(modality, "IMG-OTHER")


@workflow.defn(name="ImagingWorkflow")
class ImagingWorkflow:
    def __init__(self) -> None:
        self._inp: ImagingInput | None = None
        self._state: ImagingState | None = None
        self._tasks: dict[str, TaskRecord] = {}
        self._attaching = False
        self._completing = False
        self._result: ImagingResult | None = None
        #: Modality and time of the received study, as registered: what the charge bills.
        self._study_modality: str | None = None
        self._received_at: datetime | None = None
        self._charged = False

    @workflow.run
    async def run(self, inp: ImagingInput) -> ImagingResult:
        self._inp = inp
        state = self._state = ImagingState(order_id=inp.order_id)
        try:
            order = await workflow.execute_activity_method(ImagingActivities.create_order, OrderInput(
                audit=self._audit(), order_id=inp.order_id, patient_id=inp.patient_id,
                encounter_id=inp.encounter_id, workflow_id=workflow.info().workflow_id, modality=inp.modality,
                body_site=inp.body_site, priority=inp.priority, reason_code=inp.reason_code,
                radiologist=inp.radiologist), **STORAGE)
            state.assigned_to = order.assigned_to
            await workflow.wait_condition(lambda: state.study_id is not None)
            await self._charge_study()
            state.prescreen = await self._prescreen()
            await self._open_report_task()
            state.status = "awaiting-report"
            await self._await_report()
        except asyncio.CancelledError:
            await self._compensate()
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._result is not None
        return self._result

    @workflow.query
    def state(self) -> ImagingState:
        return self._require_state()

    @workflow.update
    async def attach_study(self, att: StudyAttachment) -> StudyAttached:
        """The study for this order arrived (staged bytes by hash, or an external reference)."""
        if self._attaching:
            raise ApplicationError("a study is already attached to this order", type="StudyAlreadyAttached")
        self._attaching = True
        inp, state = self._require_input(), self._require_state()
        study_id = f"study-{inp.order_id}"
        try:
            done = await workflow.execute_activity_method(ImagingActivities.register_study, StudyInput(
                audit=AuditContext(journey_id=inp.journey_id, requested_by=att.actor), study_id=study_id,
                order_id=inp.order_id, patient_id=inp.patient_id, sha256=att.sha256, size_bytes=att.size_bytes,
                reference=att.reference, modality=att.modality or inp.modality), **STORAGE)
        except ActivityError as err:
            self._attaching = False
            raise ApplicationError("the study could not be registered", type="InvalidStudy") from err
        self._study_modality, self._received_at = att.modality or inp.modality, workflow.now()
        state.study_id, state.status = study_id, "study-received"
        return done

    @attach_study.validator
    def _validate_attach(self, att: StudyAttachment) -> None:
        self._require_state()
        if self._attaching:
            raise ApplicationError("a study is already attached to this order", type="StudyAlreadyAttached")
        if bool(att.sha256) == bool(att.reference):
            raise ApplicationError("give exactly one of an uploaded study or a reference", type="InvalidStudy")
        if att.sha256 and (len(att.sha256) != 64 or any(c not in "0123456789abcdef" for c in att.sha256)):
            raise ApplicationError("sha256: 64 lowercase hex digits", type="InvalidStudy")
        if att.reference and len(att.reference) > 500:
            raise ApplicationError("reference: at most 500 characters", type="InvalidStudy")

    @workflow.update
    async def complete_task(self, done: TaskCompletion) -> TaskCompletionResult:
        """The assigned radiologist reports: a DiagnosticReport is stored and the stage ends."""
        inp, state = self._require_input(), self._require_state()
        task = self._tasks[done.task_id]
        if task.status != "open" or self._completing:
            raise ApplicationError(f"task {done.task_id} is already being completed", type="TaskNotOpen")
        self._completing = True
        try:
            p = done.payload
            report_id = f"report-{inp.order_id}"
            await workflow.execute_activity_method(ImagingActivities.store_report, ReportInput(
                audit=AuditContext(journey_id=inp.journey_id, requested_by=done.actor), report_id=report_id,
                order_id=inp.order_id, study_id=state.study_id or "", patient_id=inp.patient_id,
                findings_code=p["findings_code"], impression=p["impression"], conclusion=p["conclusion"],
                abnormal=p["abnormal"], issued_by=done.actor, issued_at=workflow.now(),
                ai_flagged=state.prescreen.flagged if state.prescreen else None), **STORAGE)
            await self._close_task(task, "completed", done.actor)
        finally:
            self._completing = False
        pre = state.prescreen or PrescreenResult(study_id=state.study_id or "", status="unavailable")
        state.report_id, state.status = report_id, "reported"
        self._result = ImagingResult(
            order_id=inp.order_id, status="reported", study_id=state.study_id, report_id=report_id,
            findings_code=p["findings_code"], abnormal=p["abnormal"], ai_flagged=pre.flagged,
            ai_score=pre.anomaly_score, model_version=pre.model_version, reported_by=done.actor,
            sla_breaches=state.sla_breaches)
        return TaskCompletionResult(task_id=task.id, status="completed", result={
            "report_id": report_id, "study_id": state.study_id, "findings_code": p["findings_code"],
            "abnormal": p["abnormal"]})

    @complete_task.validator
    def _validate_completion(self, done: TaskCompletion) -> None:
        task = self._tasks.get(done.task_id)
        if task is None:
            raise ApplicationError(f"task {done.task_id} is not open in this imaging order", type="TaskNotFound")
        if task.status != "open" or self._completing:
            status = task.status if task.status != "open" else "being completed"
            raise ApplicationError(f"task {done.task_id} is already {status}", type="TaskNotOpen")
        if done.role != task.role:
            raise ApplicationError(f"task {done.task_id} is for the {task.role} role", type="WrongRole")
        if done.actor != self._require_state().assigned_to:
            raise ApplicationError(f"task {done.task_id} is assigned to another radiologist", type="NotAssignee")
        validate_report(done.payload)

    async def _prescreen(self) -> PrescreenResult:
        """Decision support only: when it cannot score, the read goes on unprioritised."""
        inp, state = self._require_input(), self._require_state()
        try:
            return await workflow.execute_activity_method(
                ImagingActivities.prescreen,
                PrescreenInput(audit=self._audit(), study_id=state.study_id or "", patient_id=inp.patient_id),
                start_to_close_timeout=timedelta(minutes=2), retry_policy=INFERENCE_RETRY,
                task_queue=inp.inference_task_queue)
        except ActivityError as err:
            if is_cancelled_exception(err) and workflow.patched(PRESCREEN_CANCEL_PATCH):
                # The order was cancelled while scoring: compensate rather than open the read.
                raise asyncio.CancelledError from err
            workflow.logger.warning("imaging pre-screen failed; the study is read unprioritised")
            return PrescreenResult(study_id=state.study_id or "", status="unavailable")

    def _sla(self) -> timedelta:
        inp, pre = self._require_input(), self._require_state().prescreen
        urgent = inp.priority == "urgent" or bool(pre and pre.flagged)
        return timedelta(seconds=inp.urgent_sla_seconds if urgent else inp.routine_sla_seconds)

    async def _open_report_task(self) -> None:
        inp, state = self._require_input(), self._require_state()
        now, sla = workflow.now(), self._sla()
        task = TaskRecord(id=report_task_id(inp.order_id), type=REPORT_TASK, role="radiologist",
                          patient_id=inp.patient_id, journey_id=inp.journey_id,
                          workflow_id=workflow.info().workflow_id, created_at=now, ward=inp.ward,
                          encounter_id=inp.encounter_id, due=now + sla, details={})
        state.report_task_id, state.due = task.id, task.due
        task.details = self._task_details(sla)
        self._tasks[task.id] = task
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **STORAGE)
        self._publish_task_roles()

    def _task_details(self, sla: timedelta) -> dict[str, Any]:
        inp, state = self._require_input(), self._require_state()
        pre = state.prescreen
        return {"order_id": inp.order_id, "study_id": state.study_id, "modality": inp.modality,
                "body_site": inp.body_site, "priority": inp.priority, "assigned_to": state.assigned_to,
                "ai_status": pre.status if pre else "unavailable", "ai_flagged": pre.flagged if pre else None,
                "ai_score": pre.anomaly_score if pre else None, "sla_minutes": int(sla.total_seconds() // 60),
                "sla_breaches": state.sla_breaches, "decision_support": "AI pre-screen, not diagnosis"}

    async def _await_report(self) -> None:
        state = self._require_state()
        while self._result is None:
            remaining = (state.due - workflow.now()) if state.due else self._sla()
            try:
                await workflow.wait_condition(lambda: self._completing or self._result is not None,
                                              timeout=max(remaining, timedelta(seconds=1)))
            except TimeoutError:
                if not self._completing and self._result is None:
                    await self._escalate()
                continue
            await workflow.wait_condition(lambda: not self._completing or self._result is not None)

    async def _escalate(self) -> None:
        """SLA breached: record it and hand the read to another radiologist, with a fresh SLA."""
        inp, state = self._require_input(), self._require_state()
        task = self._tasks[state.report_task_id or ""]
        now = workflow.now()
        esc = await workflow.execute_activity_method(ImagingActivities.escalate, EscalationInput(
            audit=self._audit(), order_id=inp.order_id, patient_id=inp.patient_id,
            current=state.assigned_to or "", breached_at=now), **STORAGE)
        state.sla_breaches, state.assigned_to = esc.breaches, esc.assigned_to
        state.escalated_to.append(esc.assigned_to)
        sla = self._sla()
        task.due = state.due = now + sla
        task.details = {**self._task_details(sla), "escalated_at": now.isoformat()}
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **STORAGE)

    async def _charge_study(self) -> None:
        """Charge the received study once: ``imaging:<study id>`` priced by the registered modality.

        A refused charge (a business error, final) is logged and the read goes on: billing never
        holds up care. A cancellation while charging is re-raised so the order compensates, and the
        compensation charges again under the same key (one row however often it is delivered).
        """
        inp, state = self._require_input(), self._require_state()
        if self._charged or state.study_id is None or not workflow.patched(STUDY_CHARGE_PATCH):
            return
        study_id = state.study_id
        try:
            await workflow.execute_activity_method(BillingActivities.record_charge, ChargeInput(
                audit=AuditContext(journey_id=inp.journey_id, requested_by=inp.requested_by, purpose="HPAYMT"),
                idempotency_key=study_charge_key(study_id), encounter_id=inp.encounter_id,
                patient_id=inp.patient_id, code=study_charge_code(self._study_modality or inp.modality),
                source="imaging", source_id=study_id, occurred_at=self._received_at or workflow.now()),
                **BILLING_ACTIVITY)
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise asyncio.CancelledError from err
            workflow.logger.warning("imaging charge refused for order %s; the study is unbilled", inp.order_id)
        self._charged = True

    async def _compensate(self) -> None:
        """Cancelled (e.g. discharge): withdraw the open read, revoke the unreported order, and bill a study
        that did arrive (one still being registered is waited for) unless it was billed already."""
        inp, state = self._require_input(), self._require_state()
        if self._attaching and state.study_id is None and workflow.patched(STUDY_CHARGE_PATCH):
            await workflow.wait_condition(lambda: not self._attaching or state.study_id is not None)
        await self._charge_study()
        for task in self._tasks.values():
            if task.status == "open":
                await self._close_task(task, "cancelled", None)
        if self._result is None:
            await workflow.execute_activity_method(ImagingActivities.set_order_status, OrderStatusInput(
                audit=self._audit(), order_id=inp.order_id, patient_id=inp.patient_id, status="revoked"),
                **STORAGE)
            self._require_state().status = "revoked"

    async def _close_task(self, task: TaskRecord, status: str, by: str | None) -> None:
        task.status, task.completed_by, task.completed_at = status, by, workflow.now()
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **STORAGE)
        self._publish_task_roles()

    def _publish_task_roles(self) -> None:
        roles = sorted({t.role for t in self._tasks.values() if t.status == "open"})
        workflow.upsert_search_attributes([sa.OPEN_TASK_ROLES.value_set(roles)])

    def _audit(self) -> AuditContext:
        inp = self._require_input()
        return AuditContext(journey_id=inp.journey_id, requested_by=inp.requested_by)

    def _require_input(self) -> ImagingInput:
        if self._inp is None:
            raise ApplicationError("imaging order has not started", type="NotStarted")
        return self._inp

    def _require_state(self) -> ImagingState:
        if self._state is None:
            raise ApplicationError("imaging order has not started", type="NotStarted")
        return self._state


def validate_report(payload: dict[str, Any]) -> None:
    """The report payload: a findings code, impression and conclusion text, and ``abnormal``."""
    def bad(msg: str) -> ApplicationError:
        return ApplicationError(msg, type="InvalidTaskPayload")

    extra = sorted(set(payload) - REPORT_FIELDS)
    if extra:
        raise bad(f"payload: unknown field(s) {', '.join(extra)}")
    code = payload.get("findings_code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise bad("payload.findings_code: a code (letters, digits, . _ : | -, at most 64) is required")
    for name in ("impression", "conclusion"):
        text = payload.get(name)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise bad(f"payload.{name}: text of 1 to {MAX_TEXT} characters is required")
    if not isinstance(payload.get("abnormal"), bool):
        raise bad("payload.abnormal: true or false is required")


def build_input(ctx: JourneyContext, req: StageRequest) -> ImagingInput:
    """The order from the physician's payload: modality, body site, priority and reason as codes."""
    p = req.payload
    extra = sorted(set(p) - {"modality", "body_site", "priority", "reason_code", "radiologist"})
    if extra:
        raise StageInputError(f"unknown field(s) {', '.join(extra)}")
    modality = p.get("modality")
    if modality not in MODALITIES:
        raise StageInputError(f"modality: one of {', '.join(MODALITIES)}")
    priority = p.get("priority", "routine")
    if priority not in PRIORITIES:
        raise StageInputError("priority: routine or urgent")
    for name in ("body_site", "reason_code"):
        if not isinstance(p.get(name), str) or not CODE_PATTERN.match(p[name]):
            raise StageInputError(f"{name}: a code (letters, digits, . _ : | -, at most 64) is required")
    radiologist = p.get("radiologist")
    if radiologist is not None and (not isinstance(radiologist, str) or not 0 < len(radiologist) <= 60):
        raise StageInputError("radiologist: a user id")
    return ImagingInput(journey_id=ctx.journey_id, encounter_id=ctx.encounter_id, patient_id=ctx.patient_id,
                        order_id=req.stage_id, requested_by=req.requested_by, modality=modality,
                        body_site=p["body_site"], priority=priority, reason_code=p["reason_code"], ward=ctx.ward,
                        care_team_id=ctx.care_team_id, radiologist=radiologist,
                        inference_task_queue=req.inference_task_queue)


def summarize(result: Any) -> dict[str, Any]:
    """Codes only for the journey state: never the impression or conclusion text."""
    r = result if isinstance(result, dict) else result.__dict__
    return {k: r.get(k) for k in ("order_id", "study_id", "report_id", "findings_code", "abnormal", "ai_flagged",
                                  "sla_breaches")}


IMAGING_STAGE = StageSpec(workflow_type="ImagingWorkflow", build_input=build_input, summarize=summarize)

"""DiagnosticReport create and update: the radiologist's report and its amendments.

A create is the report that completes the read of the order in ``basedOn``: it goes to the order's
imaging workflow as the ``complete_task`` update of its report task, exactly what ``POST
/api/v1/tasks/{id}/complete`` sends, so the workflow's own checks decide (only the radiologist the
read is assigned to: 403; a read already completed: 409) and the workflow stores the report. The
task's payload comes from the resource: ``conclusion``; the findings code from ``conclusionCode``
(any code system, or ``code`` in ``urn:hms:imaging-findings`` as served); ``abnormal`` from a
``v3-ObservationInterpretation`` coding in ``conclusionCode`` (A or N…); the impression from
``presentedForm`` (one text/plain attachment), else the conclusion. No read is due before the
study arrived and was pre-screened (409).

An update is an amendment by the radiologist who reported or holds the read: status amended,
corrected or appended with a new conclusion and/or text. The version it replaces is kept (sealed,
``record_versions``) and the report's row takes the new one, sealed like the original; codes and
everything else stay as reported (422 naming the element).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException
from fhir.resources.R4B.diagnosticreport import DiagnosticReport as FhirReport
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from temporalio.exceptions import ApplicationError

from activities.crypto.fields import FieldCipher
from activities.storage import imaging_reports, record_versions
from activities.storage import tasks as task_store
from activities.storage.models_imaging import DiagnosticReport, ImagingOrder
from api.auth import Principal
from api.fhir.errors import FhirError
from api.fhir.interactions import session_call
from api.fhir.registry import Resource, ResourceType, WriteContext, Written
from api.fhir.resources.amend import plain_text, refuse_other_changes, served, text_attachment
from api.fhir.resources.common import iso
from api.fhir.resources.imaging_writes import known_order, order_of
from api.routes.tasks import UPDATE_ERRORS
from api.services import ApiServices
from api.updates import run_update
from workflows.contracts import TaskCompletion, TaskCompletionResult
from workflows.imaging import MAX_TEXT, validate_report
from workflows.imaging_contracts import CODE_PATTERN, report_task_id

FINDINGS = "urn:hms:imaging-findings"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ABNORMAL = {"A", "AA", "H", "HH", "L", "LL", "HU", "LU", "POS", "DET"}
NORMAL = {"N", "NEG", "ND"}
AMENDMENTS = ("amended", "corrected", "appended")
#: A report task that is not open is a read already done (or withdrawn): a conflict, not a missing thing.
REPORT_ERRORS = {**UPDATE_ERRORS, "TaskNotFound": 409}


def new_id(body: Resource, ctx: Any) -> str:
    """The report id the imaging workflow gives its order's report."""
    return f"report-{order_of(body, 'DiagnosticReport')}"


def _codings(body: Resource) -> list[dict[str, Any]]:
    return [c for cc in body.get("conclusionCode") or [] if isinstance(cc, dict)
            for c in cc.get("coding") or [] if isinstance(c, dict)]


def report_payload(body: Resource) -> dict[str, Any]:
    """The report task's payload from the resource (422 naming the element it cannot take)."""
    where = "DiagnosticReport.conclusionCode"
    codings = _codings(body)
    findings = [c.get("code") for c in codings if c.get("system") != INTERPRETATION]
    findings += [c.get("code") for c in (body.get("code") or {}).get("coding") or [] if c.get("system") == FINDINGS]
    if not findings or not isinstance(findings[0], str) or not CODE_PATTERN.match(findings[0]):
        raise FhirError(422, f"{where}: a findings code (letters, digits, . _ : | -, at most 64) is required",
                        expression=[where])
    flags = {c.get("code") for c in codings if c.get("system") == INTERPRETATION}
    if len(flags) != 1 or not flags <= ABNORMAL | NORMAL:
        raise FhirError(422, f"{where}: one {INTERPRETATION} coding says whether the study is abnormal (A) or "
                             "normal (N)", expression=[where])
    conclusion = body.get("conclusion")
    if not isinstance(conclusion, str) or not conclusion.strip() or len(conclusion) > MAX_TEXT:
        raise FhirError(422, f"DiagnosticReport.conclusion: text of 1 to {MAX_TEXT} characters is required",
                        expression=["DiagnosticReport.conclusion"])
    return {"findings_code": findings[0], "impression": _impression(body) or conclusion, "conclusion": conclusion,
            "abnormal": bool(flags & ABNORMAL)}


def _impression(body: Resource) -> str | None:
    forms = body.get("presentedForm") or []
    if not forms:
        return None
    if len(forms) != 1:
        raise FhirError(422, "DiagnosticReport.presentedForm: one text/plain attachment (the report's impression)",
                        expression=["DiagnosticReport.presentedForm"])
    return plain_text(forms[0], "DiagnosticReport.presentedForm", MAX_TEXT)


async def create(services: ApiServices, user: Principal, rt: ResourceType, body: Resource) -> Written:
    """Complete the order's report task with this report (the task API's ``complete_task``)."""
    if body.get("status") != "final":
        raise FhirError(422, "a new radiology report is final", expression=["DiagnosticReport.status"])
    payload = report_payload(body)
    try:
        validate_report(payload)
    except ApplicationError as exc:
        raise FhirError(422, f"DiagnosticReport: {exc.message}") from None
    state = await known_order(services, body, "DiagnosticReport")
    studies = [str((s or {}).get("reference")) for s in body.get("imagingStudy") or []]
    if studies and studies != [f"ImagingStudy/study-{state.order_id}"]:
        raise FhirError(422, "DiagnosticReport.imagingStudy must be the order's study",
                        expression=["DiagnosticReport.imagingStudy"])
    if state.reported:
        raise FhirError(409, f"imaging order {state.order_id} is reported already; amend the report with an update")
    if state.status != "active":
        raise FhirError(409, f"imaging order {state.order_id} is {state.status}: no report is due")
    task_id = report_task_id(state.order_id)
    task = await run_in_threadpool(session_call, services, _task, task_id)
    if task is None or task[0] != "open":
        raise FhirError(409, f"no report is due for imaging order {state.order_id} yet (its study has not arrived or "
                             "is being pre-screened)")
    if services.temporal is None:
        raise FhirError(503, "the workflow engine is not reachable; try again")
    handle = services.client().get_workflow_handle(task[1])
    try:
        await run_update(handle, "complete_task", TaskCompletion(task_id=task_id, actor=user.user_id, role=user.role,
                                                                  payload=payload),
                         errors=REPORT_ERRORS, ended=f"imaging order {state.order_id} belongs to a process that ended",
                         result_type=TaskCompletionResult)
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None
    found = await run_in_threadpool(session_call, services, served, "DiagnosticReport", body["id"])
    if found is None:
        raise FhirError(409, f"DiagnosticReport/{body['id']} was not recorded; read the order before retrying")
    return found, True


def _task(session: Session, cipher: FieldCipher, task_id: str) -> tuple[str, str] | None:
    task = task_store.get_task(session, task_id)
    return None if task is None else (task.status, task.workflow_id)


def update(session: Session, cipher: FieldCipher, rid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """Amend the report: keep the version it replaces, store the new one sealed."""
    row = session.scalar(sa.select(DiagnosticReport).where(DiagnosticReport.id == rid).with_for_update()
                         .execution_options(populate_existing=True)) if len(rid) <= 90 else None
    current = served(session, cipher, "DiagnosticReport", rid) if row is not None else None
    if row is None or current is None:
        return None
    order = session.get(ImagingOrder, row.order_id)
    if ctx.user_id not in (row.issued_by, order.assigned_to if order else None):
        raise FhirError(403, "a radiology report is amended by the radiologist who reported it or holds the read")
    if body.get("status") not in AMENDMENTS:
        raise FhirError(422, f"DiagnosticReport.status: an amendment is {', '.join(AMENDMENTS)}",
                        expression=["DiagnosticReport.status"])
    refuse_other_changes("DiagnosticReport", FhirReport, body, current, {"status", "conclusion", "presentedForm",
                                                                          "issued"},
                         "an amendment changes the report's status, conclusion and text; its codes stay as reported")
    text = imaging_reports.report_text(session, cipher, row)
    conclusion = body.get("conclusion")
    if not isinstance(conclusion, str) or not conclusion.strip() or len(conclusion) > MAX_TEXT:
        raise FhirError(422, f"DiagnosticReport.conclusion: text of 1 to {MAX_TEXT} characters",
                        expression=["DiagnosticReport.conclusion"])
    impression = _impression(body) or text.impression
    if (conclusion, impression) == (text.conclusion, text.impression):
        raise FhirError(422, "DiagnosticReport.conclusion: an amendment changes the conclusion or the report's text",
                        expression=["DiagnosticReport.conclusion"])
    record_versions.keep(session, cipher, rtype="DiagnosticReport", rid=rid, version=int(current["meta"]["versionId"]),
                         patient_id=row.patient_id, changes=[body["status"]], by=ctx.user_id, content={
                             "status": row.status, "findings_code": row.findings_code, "abnormal": row.abnormal,
                             "impression": text.impression, "conclusion": text.conclusion,
                             "issued_by": row.issued_by, "issued_at": iso(row.issued_at)})
    sealed = imaging_reports.sealed_report(session, cipher, {"id": rid, "patient_id": row.patient_id,
                                                             "impression": impression, "conclusion": conclusion})
    row.status, row.impression, row.conclusion = body["status"], sealed["impression"], sealed["conclusion"]
    session.flush()
    return served(session, cipher, "DiagnosticReport", rid)


def versioned(to_fhir: Any) -> Any:
    """The report as served, with its codes, its text and its version (1 + the versions kept)."""

    def report(session: Session, cipher: FieldCipher, row: DiagnosticReport) -> Resource:
        out = to_fhir(session, cipher, row)
        info = record_versions.current(session, "DiagnosticReport", row.id)
        meta = {**(out.get("meta") or {}), "versionId": str(info.version)}
        if info.since is not None:
            meta["lastUpdated"] = out["issued"] = iso(info.since)
        out["meta"] = meta
        out["conclusionCode"] = [{"coding": [{"system": FINDINGS, "code": row.findings_code}]},
                                 {"coding": [{"system": INTERPRETATION, "code": "A" if row.abnormal else "N"}]}]
        out["presentedForm"] = [text_attachment(imaging_reports.report_text(session, cipher, row).impression)]
        return out

    return report

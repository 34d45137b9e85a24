"""Imaging side effects: orders, studies, the AI pre-screen (onnxruntime) and reports.

Each activity is idempotent (keyed by the order/study/report id the workflow derives) and
appends one ledger entry after its write. The pre-screen is decision support: a failure to
score never blocks the radiologist's report, it only leaves the study unprioritised.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import worker_event
from activities.crypto.fields import DataErased, FieldCipher, FieldIntegrityError, ephemeral_cipher
from activities.storage import imaging_blobs, imaging_reports
from activities.storage.models import Task, User
from activities.storage.models_imaging import DiagnosticReport, ImagingOrder, ImagingStudy
from ledger.base import Ledger
from workflows.imaging_contracts import (
    REPORT_TASK,
    EscalationInput,
    EscalationResult,
    OrderInput,
    OrderResult,
    OrderStatusInput,
    PrescreenInput,
    PrescreenResult,
    ReportInput,
    StudyAttached,
    StudyInput,
)

MAX_STUDY_BYTES = 64 * 1024 * 1024


class InvalidStudy(ValueError):
    """The upload is not a DICOM image the department can store and read."""


def describe_dicom(data: bytes) -> str | None:
    """Check that ``data`` is a DICOM Part-10 image and return its modality; raise ``InvalidStudy``."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not data:
        raise InvalidStudy("the study is empty")
    if len(data) > MAX_STUDY_BYTES:
        raise InvalidStudy(f"the study exceeds {MAX_STUDY_BYTES // (1024 * 1024)} MiB")
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        has_image = "Rows" in ds and "Columns" in ds
        modality = str(ds.get("Modality", "") or "").strip().upper()
    except InvalidDicomError as exc:
        raise InvalidStudy(f"not a DICOM file ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - hostile bytes fail pydicom in many ways (OSError, struct.error,
        # NotImplementedError for an unknown VR, BytesLengthException, …): each is a bad upload, never a 500
        raise InvalidStudy(f"not a readable DICOM file ({type(exc).__name__})") from None
    if not has_image:
        raise InvalidStudy("the DICOM file holds no image (no Rows/Columns)")
    return modality[:8] or None


def _open_reads(session: Session, user_id: str) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(Task).where(
        Task.type == REPORT_TASK, Task.status == "open", Task.details["assigned_to"].astext == user_id)) or 0)


def pick_radiologist(session: Session, exclude: str | None = None, preferred: str | None = None) -> str | None:
    """The preferred reader if active, else the active radiologist with the fewest open reads (ties by id)."""
    users = list(session.scalars(sa.select(User.id).where(User.role == "radiologist", User.active)
                                 .order_by(User.id)))
    if preferred and preferred in users and preferred != exclude:
        return preferred
    candidates = [u for u in users if u != exclude]
    if not candidates:
        return None
    return min(candidates, key=lambda u: (_open_reads(session, u), u))


class ImagingActivities:
    """Storage, inference and audit side effects of the imaging stage."""

    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger, models: Any = None,
                 cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._models = models
        self._cipher = cipher or ephemeral_cipher()  # None: the process's ephemeral keys (tests only)

    @activity.defn(name="imaging_create_order")
    def create_order(self, inp: OrderInput) -> OrderResult:
        with self._sessions() as s, s.begin():
            order = s.get(ImagingOrder, inp.order_id)
            if order is None:
                assignee = pick_radiologist(s, preferred=inp.radiologist)
                if assignee is None:
                    raise ApplicationError("no active radiologist to report the study", type="NoRadiologist",
                                           non_retryable=True)
                s.execute(insert(ImagingOrder).values(
                    id=inp.order_id, patient_id=inp.patient_id, encounter_id=inp.encounter_id,
                    journey_id=inp.audit.journey_id, workflow_id=inp.workflow_id, modality=inp.modality,
                    body_site=inp.body_site, priority=inp.priority, reason_code=inp.reason_code,
                    requested_by=inp.audit.requested_by, assigned_to=assignee, status="active", sla_breaches=0,
                ).on_conflict_do_nothing(index_elements=["id"]))
                order = s.get(ImagingOrder, inp.order_id)
            assigned = order.assigned_to or ""
        self._ledger.append(worker_event(inp.audit, subtype="imaging.order.create", action="C",
                                         resource_type="ServiceRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))
        return OrderResult(order_id=inp.order_id, assigned_to=assigned)

    @activity.defn(name="imaging_register_study")
    def register_study(self, inp: StudyInput) -> StudyAttached:
        with self._sessions() as s, s.begin():
            blob = self._staged_blob(s, inp) if inp.sha256 else None
            s.execute(insert(ImagingStudy).values(
                id=inp.study_id, order_id=inp.order_id, patient_id=inp.patient_id, sha256=blob,
                reference=inp.reference, size_bytes=inp.size_bytes, modality=inp.modality, ai_status="pending",
            ).on_conflict_do_nothing(index_elements=["id"]))
        self._ledger.append(worker_event(inp.audit, subtype="imaging.study.register", action="C",
                                         resource_type="ImagingStudy", resource_id=inp.study_id,
                                         patient_id=inp.patient_id))
        return StudyAttached(order_id=inp.order_id, study_id=inp.study_id)

    @activity.defn(name="imaging_prescreen")
    def prescreen(self, inp: PrescreenInput) -> PrescreenResult:
        """Score the study once; a retry or a replayed call returns the stored result."""
        with self._sessions() as s:
            study = s.get(ImagingStudy, inp.study_id)
            if study is None:
                raise ApplicationError(f"study {inp.study_id} not found", type="InvalidStudy", non_retryable=True)
            if study.ai_status in ("scored", "not-an-image"):
                return _result(study)
            data = self._study_bytes(s, study)
        values: dict[str, Any] = {"ai_status": "unavailable"}
        if data is not None:
            values = self._score(data)
        values["ai_scored_at"] = datetime.now(UTC)
        with self._sessions() as s, s.begin():
            s.execute(sa.update(ImagingStudy).where(ImagingStudy.id == inp.study_id,
                                                    ImagingStudy.ai_status.in_(("pending", "unavailable")))
                      .values(**values))
            study = s.get(ImagingStudy, inp.study_id)
            result = _result(study)
        self._ledger.append(worker_event(inp.audit, subtype="imaging.prescreen", action="U",
                                         resource_type="ImagingStudy", resource_id=inp.study_id,
                                         patient_id=inp.patient_id))
        return result

    def _staged_blob(self, session: Session, inp: StudyInput) -> str:
        """The patient's own stored blob the attachment names (its id; the file's SHA-256, as histories
        recorded before blobs were sealed carry, resolves too); another patient's file is not found."""
        try:
            found = imaging_blobs.find(session, self._cipher, inp.patient_id, inp.sha256 or "")
        except DataErased:
            found = None
        if found is None:
            raise ApplicationError("the staged study was not found", type="InvalidStudy", non_retryable=True)
        return found

    def _study_bytes(self, session: Session, study: ImagingStudy) -> bytes | None:
        """The study's DICOM bytes in the clear; None when there are none to read (a reference, an erased
        record). A blob that fails authentication fails the pre-screen: the read goes on unprioritised."""
        if not study.sha256:
            return None
        try:
            return imaging_blobs.read(session, self._cipher, study.sha256)
        except (DataErased, imaging_blobs.BlobNotFound):
            return None
        except FieldIntegrityError as exc:
            raise ApplicationError(str(exc), type="StudyIntegrity", non_retryable=True) from None

    def _score(self, data: bytes) -> dict[str, Any]:
        from ml.imaging.preprocess import InvalidImage

        try:
            model = self._models.imaging
        except (AttributeError, RuntimeError):
            return {"ai_status": "unavailable"}
        try:
            score = model.score_dicom(data, heatmap=False)
        except InvalidImage:
            return {"ai_status": "not-an-image"}
        return {"ai_status": "scored", "ai_score": score.anomaly_score, "ai_flagged": score.flagged,
                "ai_threshold": score.threshold, "ai_model_version": score.model_version}

    @activity.defn(name="imaging_escalate")
    def escalate(self, inp: EscalationInput) -> EscalationResult:
        """Record the SLA breach and hand the read to another radiologist (the same one if alone)."""
        with self._sessions() as s, s.begin():
            order = s.scalar(sa.select(ImagingOrder).where(ImagingOrder.id == inp.order_id).with_for_update())
            if order is None:
                raise ApplicationError(f"order {inp.order_id} not found", type="InvalidStudy", non_retryable=True)
            if order.last_breach_at != inp.breached_at:
                order.assigned_to = pick_radiologist(s, exclude=inp.current) or inp.current
                order.sla_breaches += 1
                order.last_breach_at = inp.breached_at
            result = EscalationResult(assigned_to=order.assigned_to or inp.current, breaches=order.sla_breaches)
        self._ledger.append(worker_event(inp.audit, subtype="imaging.sla.breach", action="U",
                                         resource_type="ServiceRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))
        return result

    @activity.defn(name="imaging_store_report")
    def store_report(self, inp: ReportInput) -> None:
        with self._sessions() as s, s.begin():
            s.execute(insert(DiagnosticReport).values(**imaging_reports.sealed_report(s, self._cipher, dict(
                id=inp.report_id, order_id=inp.order_id, study_id=inp.study_id, patient_id=inp.patient_id,
                status="final", findings_code=inp.findings_code, impression=inp.impression,
                conclusion=inp.conclusion, abnormal=inp.abnormal, ai_flagged=inp.ai_flagged,
                issued_by=inp.issued_by, issued_at=inp.issued_at,
            ))).on_conflict_do_nothing(index_elements=["id"]))
            s.execute(sa.update(ImagingOrder).where(ImagingOrder.id == inp.order_id).values(status="completed"))
        self._ledger.append(worker_event(inp.audit, subtype="imaging.report.create", action="C",
                                         resource_type="DiagnosticReport", resource_id=inp.report_id,
                                         patient_id=inp.patient_id))

    @activity.defn(name="imaging_set_order_status")
    def set_order_status(self, inp: OrderStatusInput) -> None:
        with self._sessions() as s, s.begin():
            s.execute(sa.update(ImagingOrder).where(ImagingOrder.id == inp.order_id,
                                                    ImagingOrder.status == "active").values(status=inp.status))
        self._ledger.append(worker_event(inp.audit, subtype=f"imaging.order.{inp.status}", action="U",
                                         resource_type="ServiceRequest", resource_id=inp.order_id,
                                         patient_id=inp.patient_id))

    def all(self) -> list[Callable[..., object]]:
        return [self.create_order, self.register_study, self.prescreen, self.escalate, self.store_report,
                self.set_order_status]


def _result(study: ImagingStudy) -> PrescreenResult:
    return PrescreenResult(study_id=study.id, status=study.ai_status, anomaly_score=study.ai_score,
                           flagged=study.ai_flagged, threshold=study.ai_threshold,
                           model_version=study.ai_model_version)


# --- reads for the API ----------------------------------------------------------------------------


def worklist_key(item: dict[str, Any]) -> tuple[int, float, datetime]:
    """AI priority first (flagged, then higher score), then the longest wait; unscored studies sort
    after scored ones of the same flag, so a missing score never jumps the queue."""
    score = item.get("ai_score")
    return (0 if item.get("ai_flagged") else 1, -(score if score is not None else -1.0), item["waiting_since"])


def worklist(session: Session, radiologist: str) -> list[dict[str, Any]]:
    """Open report tasks assigned to ``radiologist``, in reading order (codes and ids only)."""
    rows = session.execute(
        sa.select(Task, ImagingStudy, ImagingOrder)
        .join(ImagingOrder, ImagingOrder.id == Task.details["order_id"].astext)
        .join(ImagingStudy, ImagingStudy.order_id == ImagingOrder.id)
        .where(Task.type == REPORT_TASK, Task.status == "open", Task.details["assigned_to"].astext == radiologist)
    ).all()
    items = [{
        "task_id": t.id, "order_id": o.id, "study_id": st.id, "patient_id": t.patient_id,
        "journey_id": t.journey_id, "modality": o.modality, "body_site": o.body_site, "priority": o.priority,
        "ai_status": st.ai_status, "ai_flagged": st.ai_flagged, "ai_score": st.ai_score,
        "ai_model_version": st.ai_model_version, "waiting_since": st.received_at, "due": t.due,
        "sla_breaches": o.sla_breaches, "assigned_to": o.assigned_to,
    } for t, st, o in rows]
    return sorted(items, key=worklist_key)


def get_order(session: Session, order_id: str) -> ImagingOrder | None:
    return session.get(ImagingOrder, order_id)


def study_view(session: Session, study_id: str) -> dict[str, Any] | None:
    """Metadata of a study, its order and (codes of) its report; the DICOM bytes stay in the store."""
    study = session.get(ImagingStudy, study_id)
    if study is None:
        return None
    order = session.get(ImagingOrder, study.order_id)
    report = session.scalar(sa.select(DiagnosticReport).where(DiagnosticReport.order_id == study.order_id))
    return {
        "study_id": study.id, "order_id": study.order_id, "patient_id": study.patient_id,
        "journey_id": order.journey_id, "modality": study.modality or order.modality,
        "body_site": order.body_site, "priority": order.priority, "reason_code": order.reason_code,
        "order_status": order.status, "assigned_to": order.assigned_to, "sla_breaches": order.sla_breaches,
        "blob_id": study.sha256, "reference": study.reference, "size_bytes": study.size_bytes,
        "received_at": study.received_at,
        "ai": {"status": study.ai_status, "anomaly_score": study.ai_score, "flagged": study.ai_flagged,
               "threshold": study.ai_threshold, "model_version": study.ai_model_version,
               "note": "decision support, not diagnosis"},
        "report": None if report is None else {
            "report_id": report.id, "status": report.status, "findings_code": report.findings_code,
            "abnormal": report.abnormal, "issued_by": report.issued_by, "issued_at": report.issued_at},
    }


def imaging_assignees(session: Session, patient_id: str) -> list[str]:
    """Radiologists with an active order for the patient: the policy's ``assigned_to`` for a radiologist's
    non-sensitive context reads (Patient, Encounter, Condition, Observation)."""
    return sorted(set(session.scalars(sa.select(ImagingOrder.assigned_to).where(
        ImagingOrder.patient_id == patient_id, ImagingOrder.status == "active",
        ImagingOrder.assigned_to.is_not(None)))))

"""Distinctive clinical text written into every sealed field through the store's own functions.

Each string is made-up and found nowhere else, so a raw scan of the database that finds one has
found plaintext; the same rows read back through the repositories prove the text is still there.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from activities.crypto.fields import FieldCipher
from activities.storage import erasure_repo, imaging_blobs, imaging_reports, security_repo, triage_store
from activities.storage import pharmacy as pharmacy_store
from activities.storage import repository as repo
from activities.storage import tasks as task_store
from activities.storage.models_imaging import DiagnosticReport, ImagingOrder, ImagingStudy

REASON = "Brannoxil fever after the Quelport regatta"
TASK_HINT = "Vemsworth tremor suspected"
COMPLAINT = "Orrindale chest tightness"
ANSWER = "began at the Malverny fair"
OVERRIDE = "Tindrelle looked greyer than the score"
IMPRESSION = "Sarkovian nodule in the left apex"
CONCLUSION = "Pellandrine pattern, follow up"
HIT = "Yarrowbeck cross-reaction"
REJECTED = "Duskmire dosing was too high"
HELD = "Fennimore asleep at the round"
REACTION = "Zorvexal hives"
GRANT = "Grellwick arrest in the east corridor, team unreachable"
COMMENT = "Ostravane access justified"
HOLD = "litigation Frobisham v hospital 2026/77"
#: The PatientName in the header of the seeded study's DICOM file (sealed in ``imaging_blobs.data``).
DICOM_NAME = "Hollensted^Wyberra"
#: What the raw scan looks for (a word of each string is enough, and safer against quoting).
NEEDLES = ["Brannoxil", "Vemsworth", "Orrindale", "Malverny", "Tindrelle", "Sarkovian", "Pellandrine",
           "Yarrowbeck", "Duskmire", "Fennimore", "Zorvexal", "Grellwick", "Ostravane", "Frobisham",
           "Hollensted", "Wyberra"]


@dataclass(frozen=True)
class Seeded:
    patient_id: str
    encounter_id: str
    task_id: str
    intake_id: str
    assessment_id: str
    report_id: str
    order_id: str
    administration_id: str
    allergy_id: str
    grant_id: str
    hold_id: str


def seed(sessions: sessionmaker[Session], cipher: FieldCipher, patient_id: str, encounter_id: str,
         *, with_grant: bool = True, with_hold: bool = True) -> Seeded:
    """Write one of each sealed field for a registered patient and their (existing) stay."""
    now, tag = datetime.now(UTC), uuid.uuid4().hex[:8]
    ids = Seeded(patient_id=patient_id, encounter_id=encounter_id, task_id=f"task-{tag}", intake_id=f"intake-{tag}",
                 assessment_id=f"assess-{tag}", report_id=f"report-{tag}", order_id=f"rx-{tag}",
                 administration_id=f"mar-{tag}", allergy_id=f"allergy-{tag}", grant_id=str(uuid.uuid4()), hold_id=str(uuid.uuid4()))
    journey = f"journey-{tag}"
    with sessions() as s, s.begin():
        task_store.upsert_task(s, {
            "id": ids.task_id, "type": "medication-verification", "role": "pharmacist", "ward_id": "medical",
            "patient_id": patient_id, "encounter_id": encounter_id, "journey_id": journey, "workflow_id": journey,
            "status": "open", "due": now + timedelta(hours=1), "created_at": now,
            "details": {"order_id": ids.order_id, "hint": TASK_HINT, "requires_override": True}}, cipher)
        triage_store.save_intake_draft(s, {
            "id": ids.intake_id, "patient_id": patient_id, "status": "submitted", "complaint": COMPLAINT,
            "category": "chest_pain", "answers": {"onset": ANSWER}, "red_flags": [], "esi_suggested": 3,
            "triage_id": f"triage-{tag}", "created_by": "triage-nurse-1", "updated_at": now}, cipher)
        triage_store.record_assessment(s, cipher=cipher, vitals={
            "id": f"{ids.assessment_id}-vitals", "patient_id": patient_id, "encounter_id": encounter_id,
            "triage_id": f"triage-{tag}", "status": "final", "values": {"heart_rate": 88}, "effective_at": now,
            "recorded_by": "triage-nurse-1"}, assessment={
            "id": ids.assessment_id, "triage_id": f"triage-{tag}", "patient_id": patient_id,
            "encounter_id": encounter_id, "sequence": 0, "kind": "initial", "observation_id": f"{ids.assessment_id}-vitals",
            "news2": 3, "news2_band": "low", "esi_suggested": 3, "esi_final": 2, "override_reason": OVERRIDE,
            "red_flags": [], "model_version": "test", "assessed_by": "triage-nurse-1", "assessed_at": now})
        _imaging(s, cipher, ids, journey, now)
        _pharmacy(s, cipher, ids, journey, now)
        if with_grant:
            security_repo.add_grant(s, grant_id=ids.grant_id, patient_id=patient_id, user_id="attending-2",
                                    role="attending_physician", reason=GRANT, created_at=now,
                                    expires_at=now + timedelta(hours=1), workflow_id=f"bg-{tag}", cipher=cipher)
            security_repo.record_review(s, ids.grant_id, status="reviewed", outcome="justified", by="compliance-1",
                                        at=now, comment=COMMENT, cipher=cipher)
        if with_hold:
            erasure_repo.place_hold(s, hold_id=ids.hold_id, patient_id=patient_id, reason=HOLD, by="compliance-1",
                                    cipher=cipher)
    return ids


def _imaging(s: Session, cipher: FieldCipher, ids: Seeded, journey: str, now: datetime) -> None:
    s.execute(insert(ImagingOrder).values(
        id=f"img-{ids.report_id}", patient_id=ids.patient_id, encounter_id=ids.encounter_id, journey_id=journey,
        workflow_id=journey, modality="CR", body_site="chest", priority="routine", reason_code="R07.4",
        requested_by="attending-1", status="active"))
    blob = imaging_blobs.stage(s, cipher, ids.patient_id, _dicom())
    s.execute(insert(ImagingStudy).values(id=f"study-{ids.report_id}", order_id=f"img-{ids.report_id}",
                                          patient_id=ids.patient_id, modality="CR", sha256=blob.blob_id,
                                          size_bytes=blob.size_bytes))
    s.execute(insert(DiagnosticReport).values(**imaging_reports.sealed_report(s, cipher, dict(
        id=ids.report_id, order_id=f"img-{ids.report_id}", study_id=f"study-{ids.report_id}",
        patient_id=ids.patient_id, status="final", findings_code="RID5352", impression=IMPRESSION,
        conclusion=CONCLUSION, abnormal=True, ai_flagged=None, issued_by="radiologist-1", issued_at=now))))


def _dicom() -> bytes:
    """A small synthetic image whose header names the patient, as a modality's file would."""
    import io

    import pydicom

    from deploy.demo_orders import synthetic_dicom

    ds = pydicom.dcmread(io.BytesIO(synthetic_dicom("CR", 5)))
    ds.PatientName = DICOM_NAME
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def dicom_name(s: Session, cipher: FieldCipher, ids: Seeded) -> str:
    """The PatientName of the seeded study's file, read back through the blob store."""
    import io

    import pydicom

    blob = imaging_blobs.read(s, cipher, s.get(ImagingStudy, f"study-{ids.report_id}").sha256)
    return str(pydicom.dcmread(io.BytesIO(blob)).PatientName)


def _pharmacy(s: Session, cipher: FieldCipher, ids: Seeded, journey: str, now: datetime) -> None:
    pharmacy_store.create_order(s, {
        "id": ids.order_id, "patient_id": ids.patient_id, "encounter_id": ids.encounter_id, "journey_id": journey,
        "workflow_id": journey, "drug_code": "1191", "dose": 75.0, "unit": "mg", "route": "PO",
        "frequency_hours": 24, "doses": 1, "units_per_dose": 1, "status": "pending-verification", "hits": [],
        "ordered_by": "attending-1"}, cipher)
    pharmacy_store.set_order(s, ids.order_id, cipher, hits=[{"kind": "allergy", "code": "penicillin", "note": HIT}])
    pharmacy_store.record_administration(s, {
        "id": ids.administration_id, "order_id": ids.order_id, "patient_id": ids.patient_id, "dose_number": 1,
        "due": now, "status": "held", "reason": HELD, "recorded_by": "nurse-medical-1", "recorded_at": now}, cipher)
    pharmacy_store.close_order(s, ids.order_id, "rejected", f"close-{ids.order_id}", REJECTED, cipher)
    pharmacy_store.add_allergy(s, {
        "id": ids.allergy_id, "patient_id": ids.patient_id, "code": "7980", "is_class": False,
        "criticality": "high", "reaction": REACTION, "status": "active", "recorded_by": "attending-1"}, cipher)


def finish_stay(sessions: sessionmaker[Session], encounter_id: str) -> None:
    with sessions() as s, s.begin():
        repo.set_encounter_status(s, encounter_id, "finished", datetime.now(UTC))


def raw(sessions: sessionmaker[Session], table: str, column: str, row_id: str) -> bytes | None:
    """A column as stored (bytes), for checks that it is ciphertext."""
    with sessions() as s:
        value = s.execute(sa.text(f'SELECT "{column}" FROM hms.{table} WHERE id = :i'), {"i": row_id}).scalar()
    return None if value is None else bytes(value)

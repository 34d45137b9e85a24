"""The demo's orders: an imaging study from order to report, a medication from order to first dose.

Each step is done by the role that does it in the hospital, through the public API and the
task inbox: the attending orders, the assigned radiologist uploads the study and reports it,
the pharmacist verifies (overriding findings with a reason, or rejecting), the ward nurse
records the first dose on the eMAR.
"""
from __future__ import annotations

import io
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deploy.client import ApiClient, or_none
from deploy.demo_scenarios import ImagingPlan, MedPlan

if TYPE_CHECKING:
    from deploy.demo_journey import Outcome

PHARMACIST = ("pharmacist-1", "pharmacist")
FINDINGS = {False: "17621005", True: "263654008"}  # SNOMED CT: normal / abnormal


@dataclass
class Visit:
    """The admitted stay the orders belong to, and who works on it."""

    journey_id: str
    patient_id: str
    encounter_id: str
    ward: str
    attending: str
    nurse: str
    outcome: Outcome
    #: order id → continue | stop, for the medication reconciliation at discharge
    at_discharge: dict[str, str] = field(default_factory=dict)

    @property
    def tasks(self) -> Counter[str]:
        return self.outcome.tasks


def synthetic_dicom(modality: str, seed: int) -> bytes:
    """A small synthetic DICOM Part-10 image (noise, no person in it) for the upload path."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID = modality, "SYNTHETIC"
    pixels = (np.random.default_rng(seed).random((128, 128)) * 1000).astype(np.uint16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


async def run_imaging(api: ApiClient, v: Visit, plan: ImagingPlan, timeout: float) -> str:
    """Order → study (upload or reference) → report by the assigned radiologist; returns the order id."""
    order_id = str(uuid.uuid4())
    await api.call("POST", f"/api/v1/journeys/{v.journey_id}/imaging-orders", v.attending, "attending_physician",
                   json={"modality": plan.modality, "body_site": plan.body_site, "priority": plan.priority,
                         "reason_code": plan.reason_code, "radiologist": plan.radiologist, "order_id": order_id})
    path = f"/api/v1/imaging/orders/{order_id}/study"
    data = synthetic_dicom(plan.modality, int(uuid.UUID(order_id)) % 2**32) if plan.upload else None

    async def attach() -> Any:
        """The study arrives once the order exists (404 until the stage has created it)."""
        if data is not None:
            call = api.call("POST", path, plan.radiologist, "radiologist", content=data,
                            content_type="application/dicom")
        else:
            call = api.call("POST", path, plan.radiologist, "radiologist",
                            json={"reference": f"urn:hms:demo-pacs:{order_id}"})
        return await or_none(call)

    await api.poll_when(attach, timeout, f"imaging order {order_id} was not created", ready=lambda w: (
        w.pushed_stage(v.patient_id, "imaging-order", {"order_id": order_id}) is not None))
    task = await api.wait_task(plan.radiologist, "radiologist", patient=v.patient_id, task_type="imaging-report",
                               match={"order_id": order_id}, timeout=timeout)
    reader = task["details"].get("assigned_to") or plan.radiologist
    await api.complete(task, reader, "radiologist", {
        "findings_code": FINDINGS[plan.abnormal], "abnormal": plan.abnormal,
        "impression": "Synthetic demo study: findings as coded.",
        "conclusion": "Abnormal, clinical correlation advised." if plan.abnormal else "No acute abnormality."})
    v.tasks["radiologist"] += 1
    return order_id


async def run_medication(api: ApiClient, v: Visit, plan: MedPlan, timeout: float) -> str:
    """Order → pharmacist verification → (approved) first dose on the eMAR; returns the order id."""
    if plan.allergy:
        await api.call("POST", f"/api/v1/patients/{v.patient_id}/allergies", v.attending, "attending_physician",
                       json={"code": plan.allergy, "criticality": "high", "reaction": "urticaria"})
    order_id = str(uuid.uuid4())
    await api.call("POST", f"/api/v1/journeys/{v.journey_id}/medication-orders", v.attending, "attending_physician",
                   json={"drug_code": plan.drug_code, "dose": plan.dose, "unit": plan.unit, "route": plan.route,
                         "frequency_hours": plan.frequency_hours, "doses": plan.doses, "order_id": order_id})
    verify = await api.wait_task(*PHARMACIST, patient=v.patient_id, task_type="medication-verification",
                                 match={"order_id": order_id}, timeout=timeout)
    findings = bool(verify["details"].get("requires_override"))
    if plan.verify == "reject":
        payload = {"decision": "reject",
                   "reason": "allergy on record" if findings else "dose to be reviewed with the prescriber"}
        v.outcome.rejections += 1
    else:
        payload = {"decision": "approve"}
        if findings:
            payload["override_reason"] = "benefit outweighs the risk; monitoring in place"
            v.outcome.overrides += 1
    await api.complete(verify, *PHARMACIST, payload)
    v.tasks["pharmacist"] += 1
    if plan.verify == "reject":
        return order_id

    async def first_dose() -> dict[str, Any] | None:
        for t in await api.tasks(v.nurse, "nurse", patient=v.patient_id):
            if t["type"] == "medication-administration" and t["details"].get("order_id") == order_id:
                return t
        for t in await api.tasks(*PHARMACIST, patient=v.patient_id):
            if t["type"] == "medication-stock" and t["details"].get("order_id") == order_id:
                return t
        return None

    def pushed() -> dict[str, Any] | None:
        if api.wakeups is None:
            return None
        match = {"order_id": order_id}
        return (api.wakeups.pushed_task(v.patient_id, "medication-administration", match, "nurse")
                or api.wakeups.pushed_task(v.patient_id, "medication-stock", match, "pharmacist"))

    task = await api.poll(first_dose, timeout, f"no first dose of order {order_id} was scheduled", pushed=pushed,
                          probe_first=False)
    if task["type"] == "medication-stock":  # not enough stock: the pharmacist cancels the order
        await api.complete(task, *PHARMACIST, {"action": "cancel", "reason": "out of stock"})
        v.tasks["pharmacist"] += 1
        return order_id
    dose: dict[str, Any] = {"status": plan.dose_status}
    if plan.dose_status != "given":
        dose["reason"] = "patient asleep" if plan.dose_status == "held" else "patient declined"
    await api.complete(task, v.nurse, "nurse", dose)
    v.tasks["nurse"] += 1
    if plan.doses > 1:
        v.at_discharge[order_id] = plan.at_discharge
    return order_id

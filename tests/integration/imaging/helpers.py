"""Shared steps of the imaging integration tests and the replay recorder."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import sqlalchemy as sa
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import imaging_blobs
from activities.storage.db import make_session_factory
from ml.imaging.evaluate import REAL_INJECTIONS
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import ImagingState, StudyAttachment
from workflows.journey import PatientJourney
from workflows.stages import StageRequest

REPORT = {"findings_code": "RID5352", "impression": "Right lower lobe nodule, 9 mm.",
          "conclusion": "Suspicious nodule; CT chest advised.", "abnormal": True}


def rg1_bytes() -> bytes:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("RG1_UNCR.dcm")).read_bytes()


def with_patient(data: bytes, name: str, patient_id: str, birth_date: str) -> bytes:
    """A copy of a DICOM file whose header names a patient (PatientName, PatientID, PatientBirthDate)."""
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = name, patient_id, birth_date
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def injected_bytes() -> bytes:
    """The real plate with an injected anomaly: of the model card's real-plate injections (each meant to
    score above the clean plate), the one the shipped model ranks highest, so the worklist test checks
    ordering, not how sure the model is about one particular lesion."""
    from ml.imaging.inject import inject_into_dicom
    from ml.imaging.runtime import ImagingModel
    from ml.runtime import DEFAULT_MODELS_DIR

    model = ImagingModel.load(DEFAULT_MODELS_DIR)
    copies = [inject_into_dicom(rg1_bytes(), kind, seed) for kind, seed in REAL_INJECTIONS]
    return max(copies, key=lambda blob: model.score_dicom(blob, heatmap=False).anomaly_score)


def order_payload(priority: str = "urgent", radiologist: str | None = "radiologist-1") -> dict:
    payload = {"modality": "CR", "body_site": "51185008", "priority": priority, "reason_code": "R05"}
    if radiologist:
        payload["radiologist"] = radiologist
    return payload


async def start_order(client: Client, journey: WorkflowHandle, payload: dict) -> WorkflowHandle:
    order_id = str(uuid.uuid4())
    status = await journey.execute_update(PatientJourney.start_stage, StageRequest(
        kind="imaging", stage_id=order_id, requested_by="attending-1", payload=payload))
    return client.get_workflow_handle_for(ImagingWorkflow.run, status.workflow_id)


async def order_patient(engine: sa.Engine, handle: WorkflowHandle) -> str:
    """The patient of an imaging order's workflow, once its first activity stored the order."""
    for _ in range(300):
        with engine.connect() as c:
            found = c.execute(sa.text("SELECT patient_id FROM hms.imaging_orders WHERE workflow_id = :w"),
                              {"w": handle.id}).scalar()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the imaging order of {handle.id} was never stored")


async def attach_dicom(engine: sa.Engine, handle: WorkflowHandle, data: bytes,
                       cipher: FieldCipher | None = None) -> str:
    """Stage the bytes as the API does (sealed for the order's patient) and attach them; returns the blob id."""
    patient_id = await order_patient(engine, handle)
    with make_session_factory(engine)() as s, s.begin():
        digest = imaging_blobs.stage(s, cipher or ephemeral_cipher(), patient_id, data).blob_id
    for _ in range(100):  # the order may not have run its first task yet (the API answers 404 then)
        try:
            await handle.execute_update(ImagingWorkflow.attach_study,
                                        StudyAttachment(actor="radiologist-1", sha256=digest, size_bytes=len(data)))
            return digest
        except WorkflowUpdateFailedError as err:
            if getattr(err.cause, "type", None) != "NotStarted":
                raise
        await asyncio.sleep(0.1)
    raise AssertionError("the imaging order never started")


async def wait_imaging(handle: WorkflowHandle, predicate, timeout: float = 60.0) -> ImagingState:  # noqa: ANN001
    state = None
    for _ in range(int(timeout * 10)):
        try:
            state = await handle.query(ImagingWorkflow.state)
        except Exception:  # noqa: BLE001 - the child may not have started yet
            state = None
        if state is not None and predicate(state):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"imaging state never matched: {state}")

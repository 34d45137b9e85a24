"""Imaging: physicians order, studies arrive, radiologists read from an AI-prioritised worklist.

Uploaded DICOM bytes are stored in the database, sealed under the patient's data key
(``activities.storage.imaging_blobs``), before the order's workflow is told about them, so only
the blob's keyed id travels through history. The upload answers the file's SHA-256 (for the
uploader to check) and the blob id; neither the hash nor the bytes are stored in the clear.
"""
from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from activities import imaging as store
from activities.storage import imaging_blobs
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.routes.stages import journey_state, start_stage
from api.services import ApiServices
from api.updates import run_update
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import MODALITIES, StudyAttached, StudyAttachment
from workflows.stages import StageRequest, stage_workflow_id

router = APIRouter(prefix="/api/v1", tags=["imaging"])

CODE = r"^[A-Za-z0-9][A-Za-z0-9._:|-]{0,63}$"
ATTACH_ERRORS = {"InvalidStudy": 422, "StudyAlreadyAttached": 409, "NotStarted": 409}
DICOM_TYPES = ("application/dicom", "application/octet-stream")
REFERENCE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S{1,490}$")


class ImagingOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    modality: Literal[MODALITIES]  # type: ignore[valid-type]
    body_site: Annotated[str, Field(pattern=CODE)]
    priority: Literal["routine", "urgent"] = "routine"
    reason_code: Annotated[str, Field(pattern=CODE)]
    radiologist: Annotated[str | None, Field(max_length=60)] = None
    #: Client-chosen id, so a retried order starts nothing new.
    order_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9-]{8,64}$")] = None


class StudyReferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reference: Annotated[str, Field(pattern=REFERENCE.pattern)]


@router.post("/journeys/{journey_id}/imaging-orders", status_code=202)
async def order_imaging(journey_id: str, body: ImagingOrderIn, user: CurrentUser,
                        services: Services) -> dict[str, Any]:
    """An attending orders a study (ServiceRequest); the journey starts its imaging stage."""
    state = await journey_state(services, journey_id)
    order_id = body.order_id or str(uuid.uuid4())
    resource = await run_in_threadpool(patient_resource, services, "ServiceRequest", state.patient_id, order_id,
                                       default_ward=state.ward)
    await authorize(services, user, action="create", resource=resource, subtype="imaging.order.create")
    payload = body.model_dump(exclude={"order_id"}, exclude_none=True)
    status = await start_stage(services, journey_id, StageRequest(kind="imaging", stage_id=order_id,
                                                                  requested_by=user.user_id, payload=payload,
                                                                  inference_task_queue=services.inference_task_queue))
    return {"order_id": order_id, "journey_id": journey_id, "workflow_id": status.workflow_id,
            "status": status.status}


@router.post("/imaging/orders/{order_id}/study", status_code=202)
async def attach_study(order_id: str, request: Request, user: CurrentUser, services: Services) -> dict[str, Any]:
    """The study arrives: DICOM bytes (``application/dicom`` or multipart field ``file``) or a reference."""
    order = await run_in_threadpool(_order, services, order_id)
    resource = await run_in_threadpool(patient_resource, services, "ServiceRequest", order["patient_id"], order_id,
                                       assigned_to=order["assigned_to"])
    await authorize(services, user, action="update", resource=resource, subtype="imaging.study.attach")
    if order["status"] != "active":
        raise HTTPException(409, f"order {order_id} is {order['status']}")
    attachment, file_sha256 = await _read_study(request, user.user_id, services, order["patient_id"])
    handle = services.client().get_workflow_handle_for(ImagingWorkflow.run, order["workflow_id"])
    done: StudyAttached = await run_update(handle, ImagingWorkflow.attach_study, attachment, errors=ATTACH_ERRORS,
                                           ended=f"order {order_id} belongs to a process that has ended")
    return {"order_id": order_id, "study_id": done.study_id, "status": done.status, "sha256": file_sha256,
            "blob_id": attachment.sha256, "size_bytes": attachment.size_bytes, "reference": attachment.reference}


@router.get("/imaging/worklist")
async def worklist(user: CurrentUser, services: Services) -> list[dict[str, Any]]:
    """The caller's open reads: AI-flagged first, then by score, then the longest waiting."""
    await authorize(services, user, action="list", subtype="imaging.worklist",
                    resource={"type": "ImagingStudy", "assigned_to": user.user_id, "patient_id": None})
    if user.role != "radiologist":
        raise HTTPException(403, "the imaging worklist is for radiologists")
    return await run_in_threadpool(_worklist, services, user.user_id)


@router.get("/imaging/studies/{study_id}")
async def get_study(study_id: str, user: CurrentUser, services: Services) -> dict[str, Any]:
    """Study metadata, the AI pre-screen (decision support) and the report's codes, per policy."""
    view = await run_in_threadpool(_study, services, study_id)
    if view is None:
        raise HTTPException(404, f"study {study_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "ImagingStudy", view["patient_id"], study_id,
                                       assigned_to=view["assigned_to"])
    await authorize(services, user, action="read", resource=resource, subtype="imaging.study.read")
    return view


async def _read_study(request: Request, actor: str, services: ApiServices,
                      patient_id: str) -> tuple[StudyAttachment, str | None]:
    """The update's attachment and the file's SHA-256 (of the bytes sent, or as a reference named it)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > store.MAX_STUDY_BYTES + 65536:
        raise HTTPException(413, f"body: the study exceeds {store.MAX_STUDY_BYTES // (1024 * 1024)} MiB")
    if ctype == "application/json":
        try:
            ref = StudyReferenceIn.model_validate_json(await request.body())
        except ValueError as exc:
            raise HTTPException(422, "reference: a URI (scheme:…) or sha256:<hex> of a stored study") from exc
        return await _reference(ref.reference, actor, services, patient_id)
    if ctype == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "file: a DICOM file field named 'file' is required")
        data = await upload.read()
    elif ctype in DICOM_TYPES:
        data = await request.body()
    else:
        raise HTTPException(415, "send application/dicom, multipart/form-data (file) or JSON {reference}")
    try:
        modality = await run_in_threadpool(store.describe_dicom, data)
    except store.InvalidStudy as exc:
        raise HTTPException(422, f"body: {exc}") from exc
    staged = await run_in_threadpool(_stage, services, patient_id, data)
    return (StudyAttachment(actor=actor, sha256=staged.blob_id, size_bytes=staged.size_bytes, modality=modality),
            staged.sha256)


async def _reference(reference: str, actor: str, services: ApiServices,
                     patient_id: str) -> tuple[StudyAttachment, str | None]:
    """``sha256:<hex>`` re-uses a file already stored for this patient (by its SHA-256 or its blob id; AI can
    score it); another patient's file is not found. Any other URI is kept as is."""
    if reference.startswith("sha256:"):
        digest = reference[len("sha256:"):].lower()
        blob = await run_in_threadpool(_find_blob, services, patient_id, digest)
        if blob is None:
            raise HTTPException(422, "reference: no stored study of this patient has that sha256")
        return StudyAttachment(actor=actor, sha256=blob), (digest if digest != blob else None)
    return StudyAttachment(actor=actor, reference=reference), None


def _order(services: ApiServices, order_id: str) -> dict[str, Any]:
    with services.sessions() as s:
        o = store.get_order(s, order_id)
        if o is None:
            raise HTTPException(404, f"order {order_id} not found")
        return {"patient_id": o.patient_id, "assigned_to": o.assigned_to, "status": o.status,
                "workflow_id": o.workflow_id or stage_workflow_id("imaging", order_id)}


def _stage(services: ApiServices, patient_id: str, data: bytes) -> imaging_blobs.StagedBlob:
    with services.sessions() as s, s.begin():
        return imaging_blobs.stage(s, services.field_cipher, patient_id, data)


def _find_blob(services: ApiServices, patient_id: str, ref: str) -> str | None:
    with services.sessions() as s:
        return imaging_blobs.find(s, services.field_cipher, patient_id, ref)


def _worklist(services: ApiServices, user_id: str) -> list[dict[str, Any]]:
    with services.sessions() as s:
        return store.worklist(s, user_id)


def _study(services: ApiServices, study_id: str) -> dict[str, Any] | None:
    with services.sessions() as s:
        return store.study_view(s, study_id)

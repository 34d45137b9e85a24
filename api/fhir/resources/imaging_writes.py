"""ImagingStudy create and update: the study of an imaging order arrives as the task API delivers it.

A create is the study for the order in ``basedOn`` (``ServiceRequest/<order id>``, required): it goes
to the order's imaging workflow through the same ``attach_study`` update as ``POST
/api/v1/imaging/orders/{id}/study`` with a reference, and the workflow registers it, charges it, runs
the AI pre-screen and opens the radiologist's read. FHIR has no place for pixel data in an
ImagingStudy, so the study is referenced by its DICOM Study Instance UID (``identifier`` with system
``urn:dicom:uid``, value ``urn:oid:…``) as the PACS names it; as for any reference in the task API
the pre-screen has no pixels to score and answers ``unavailable``, and the read goes on unprioritised.
Series, instances and endpoints are not kept. The workflow has registered the study when the update
returns, so the create answers 201 with the stored study (200 for the same study sent again).

An update may change the description (kept sealed) and nothing else: the store keeps no study
status, so withdrawing a study is refused (409 once it is reported: amend the report instead).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException
from fhir.resources.R4B.imagingstudy import ImagingStudy as FhirStudy
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from activities import imaging as imaging_store
from activities.crypto.fields import FieldCipher
from activities.storage import record_versions
from activities.storage.models_imaging import DiagnosticReport, ImagingStudy
from api.auth import Principal
from api.fhir.errors import FhirError
from api.fhir.interactions import session_call
from api.fhir.registry import Resource, ResourceType, WriteContext, Written
from api.fhir.resources.amend import refuse_other_changes, served
from api.fhir.resources.common import ref_of
from api.routes.imaging import ATTACH_ERRORS
from api.services import ApiServices
from api.updates import run_update
from workflows.imaging import ImagingWorkflow
from workflows.imaging_contracts import MODALITIES, StudyAttachment
from workflows.stages import stage_workflow_id

DICOM_UID = "urn:dicom:uid"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
UID = re.compile(r"^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$")
ORDER_ID = re.compile(r"^[A-Za-z0-9-]{1,80}$")
MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class OrderState:
    """An imaging order as the FHIR writes check it (codes and ids only)."""

    order_id: str
    patient_id: str
    encounter_id: str
    status: str
    assigned_to: str | None
    workflow_id: str
    study_reference: str | None
    has_study: bool
    reported: bool


def order_of(body: Resource, rtype: str) -> str:
    """The imaging order the resource is for: its one ``basedOn`` ServiceRequest (422 otherwise)."""
    refs = body.get("basedOn") or []
    value = (refs[0] or {}).get("reference") if len(refs) == 1 and isinstance(refs[0], dict) else None
    order_id = value.removeprefix("ServiceRequest/") if isinstance(value, str) and value.startswith(
        "ServiceRequest/") else ""
    if not ORDER_ID.match(order_id):
        raise FhirError(422, f"{rtype}.basedOn must reference the one imaging order (ServiceRequest/<id>) it is for",
                        expression=[f"{rtype}.basedOn"])
    return order_id


def order_state(session: Session, cipher: FieldCipher, order_id: str) -> OrderState | None:
    order = imaging_store.get_order(session, order_id)
    if order is None:
        return None
    study = session.scalar(sa.select(ImagingStudy).where(ImagingStudy.order_id == order_id))
    return OrderState(order_id=order.id, patient_id=order.patient_id, encounter_id=order.encounter_id,
                      status=order.status, assigned_to=order.assigned_to,
                      workflow_id=order.workflow_id or stage_workflow_id("imaging", order_id),
                      study_reference=study.reference if study is not None else None, has_study=study is not None,
                      reported=reported(session, order_id))


def reported(session: Session, order_id: str) -> bool:
    return session.scalar(sa.select(DiagnosticReport.id).where(DiagnosticReport.order_id == order_id)) is not None


async def known_order(services: ApiServices, body: Resource, rtype: str) -> OrderState:
    """The order of ``basedOn``, of the resource's subject (422 naming the element otherwise)."""
    order_id = order_of(body, rtype)
    state = await run_in_threadpool(session_call, services, order_state, order_id)
    if state is None:
        raise FhirError(422, f"{rtype}.basedOn: no imaging order {order_id} is recorded",
                        expression=[f"{rtype}.basedOn"])
    if ref_of(body, "subject") != state.patient_id or not str((body.get("subject") or {}).get(
            "reference", "")).startswith("Patient/"):
        raise FhirError(422, f"{rtype}.subject must be the patient the order is for", expression=[f"{rtype}.subject"])
    if body.get("encounter") is not None and ref_of(body, "encounter") != state.encounter_id:
        raise FhirError(422, f"{rtype}.encounter must be the stay the order was placed in",
                        expression=[f"{rtype}.encounter"])
    return state


def policy_extra(session: Session, cipher: FieldCipher, resource: Resource) -> dict[str, Any]:
    """The policy's facts about an imaging write: the radiologist its order is assigned to."""
    try:
        state = order_state(session, cipher, order_of(resource, str(resource.get("resourceType"))))
    except FhirError:
        return {}
    return {"assigned_to": state.assigned_to} if state is not None else {}


def new_id(body: Resource, ctx: WriteContext) -> str:
    """The study id the imaging workflow gives its order's study."""
    return f"study-{order_of(body, 'ImagingStudy')}"


def study_reference(body: Resource) -> str:
    """``urn:oid:<Study Instance UID>`` from the ``urn:dicom:uid`` identifier (422 when there is none)."""
    for ident in body.get("identifier") or []:
        value = str((ident or {}).get("value") or "")
        if (ident or {}).get("system") == DICOM_UID and UID.match(value) and len(value) <= 72:
            return value
    raise FhirError(422, "ImagingStudy.identifier: the Study Instance UID (system urn:dicom:uid, value "
                         "urn:oid:<uid>) names the study the department reads", expression=["ImagingStudy.identifier"])


def _modality(body: Resource) -> str | None:
    codes = [c.get("code") for c in body.get("modality") or [] if isinstance(c, dict)]
    if not codes:
        return None
    if len(codes) > 1 or codes[0] not in MODALITIES:
        raise FhirError(422, f"ImagingStudy.modality: one DICOM modality of {', '.join(MODALITIES)}",
                        expression=["ImagingStudy.modality"])
    return codes[0]


async def create(services: ApiServices, user: Principal, rt: ResourceType, body: Resource) -> Written:
    """Deliver the study to the order's imaging workflow (the task API's ``attach_study``)."""
    if body.get("status") not in ("registered", "available"):
        raise FhirError(422, "a new ImagingStudy is registered or available", expression=["ImagingStudy.status"])
    reference, modality = study_reference(body), _modality(body)
    state = await known_order(services, body, "ImagingStudy")
    if state.has_study:
        if state.study_reference == reference:  # the same study sent again
            return await _read(services, body["id"]), False
        raise FhirError(409, f"imaging order {state.order_id} has its study already")
    if state.status != "active":
        raise FhirError(409, f"imaging order {state.order_id} is {state.status}: it waits for no study")
    if services.temporal is None:
        raise FhirError(503, "the workflow engine is not reachable; try again")
    handle = services.client().get_workflow_handle_for(ImagingWorkflow.run, state.workflow_id)
    try:
        await run_update(handle, ImagingWorkflow.attach_study,
                         StudyAttachment(actor=user.user_id, reference=reference, modality=modality),
                         errors=ATTACH_ERRORS, ended=f"imaging order {state.order_id} belongs to a process that ended")
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None
    return await _read(services, body["id"]), True


async def _read(services: ApiServices, study_id: str) -> Resource:
    found = await run_in_threadpool(session_call, services, served, "ImagingStudy", study_id)
    if found is None:
        raise FhirError(409, f"ImagingStudy/{study_id} was not recorded; read the order's state before retrying")
    return found


def update(session: Session, cipher: FieldCipher, rid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """Set or clear the study's description; every other change is refused."""
    study = session.get(ImagingStudy, rid) if len(rid) <= 90 else None
    current = served(session, cipher, "ImagingStudy", rid) if study is not None else None
    if study is None or current is None:
        return None
    if body.get("status") != current.get("status"):
        if reported(session, study.order_id) and body.get("status") in ("entered-in-error", "cancelled"):
            raise FhirError(409, f"ImagingStudy/{rid} is reported: amend its DiagnosticReport instead")
        raise FhirError(422, "ImagingStudy.status: the imaging store keeps no study status (an order sent in error "
                             "is cancelled through its ServiceRequest)", expression=["ImagingStudy.status"])
    refuse_other_changes("ImagingStudy", FhirStudy, body, current, {"status", "description"},
                         "the imaging workflow recorded the study; an update sets its description")
    description = body.get("description")
    if description is not None and (not str(description).strip() or len(str(description)) > MAX_DESCRIPTION):
        raise FhirError(422, f"ImagingStudy.description: 1 to {MAX_DESCRIPTION} characters",
                        expression=["ImagingStudy.description"])
    if description != current.get("description"):
        record_versions.set_description(session, cipher, study_id=rid, patient_id=study.patient_id,
                                        description=description, by=ctx.user_id)
    return served(session, cipher, "ImagingStudy", rid)


def versioned(to_fhir: Any) -> Any:
    """The study as served, with its Study Instance UID and description."""

    def study(session: Session, cipher: FieldCipher, row: ImagingStudy) -> Resource:
        out = to_fhir(session, cipher, row)
        if row.reference and UID.match(row.reference):
            out["identifier"] = [{"system": DICOM_UID, "value": row.reference}]
        described = record_versions.description_of(session, cipher, row.id)
        if described is not None:
            out["description"] = described[0]
        return out

    return study

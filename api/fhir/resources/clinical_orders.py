"""Medication and imaging records as FHIR, read-only: MedicationRequest, MedicationAdministration
(pharmacy journey), ServiceRequest, ImagingStudy, DiagnosticReport (imaging journey).

Orders are placed through the task API, or by a FHIR create of a ServiceRequest or MedicationRequest,
which starts the same journey stage (``api.fhir.orders``, 202 until the stage has recorded the order);
imaging records carry the assigned radiologist to the policy (a radiologist sees the work assigned to them)."""
from __future__ import annotations

from dataclasses import replace

from fhir.resources.R4B.diagnosticreport import DiagnosticReport as FhirReport
from fhir.resources.R4B.imagingstudy import ImagingStudy as FhirStudy
from fhir.resources.R4B.medicationadministration import MedicationAdministration as FhirAdmin
from fhir.resources.R4B.medicationrequest import MedicationRequest as FhirRequest
from fhir.resources.R4B.servicerequest import ServiceRequest as FhirServiceRequest

from activities.storage import imaging_reports, pharmacy_text
from activities.storage.models_imaging import DiagnosticReport, ImagingOrder, ImagingStudy
from activities.storage.models_pharmacy import MedicationAdministration, MedicationOrder
from api.fhir.registry import register
from api.fhir.resources import order_writes
from api.fhir.resources.common import coded, drop_none, iso, ref, user_ref
from api.fhir.resources.tabled import read_only

FORMULARY = "urn:hms:formulary"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
REQUEST_STATUS = {"completed": "completed", "cancelled": "cancelled", "rejected": "cancelled",
                  "stopped": "stopped", "on-hold": "on-hold"}
ADMIN_STATUS = {"given": "completed", "held": "on-hold", "refused": "not-done", "missed": "not-done"}
JOURNEY_BY_API = "Write through the task API (its journey checks and verifies); served here read-only."
STAGED = ("create starts the journey stage the task API's order route starts, validated the same way, for a "
          "patient with a stay in progress: 202 Accepted with Content-Location (readable once the stage has "
          "recorded it); idempotent on the first identifier; not inside transactions.")


def _medication_request(session, cipher, o: MedicationOrder) -> dict:
    return drop_none({
        "resourceType": "MedicationRequest", "id": o.id, "meta": {"lastUpdated": iso(o.updated_at)},
        "status": REQUEST_STATUS.get(o.status, "active"), "intent": "order",
        "medicationCodeableConcept": coded(FORMULARY, o.drug_code),
        "subject": ref("Patient", o.patient_id), "encounter": ref("Encounter", o.encounter_id),
        "authoredOn": iso(o.created_at), "requester": user_ref(o.ordered_by),
        "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": o.frequency_hours, "periodUnit": "h",
                                                     "count": o.doses}},
                               "route": {"text": o.route},
                               "doseAndRate": [{"doseQuantity": {"value": o.dose, "unit": o.unit}}]}],
    })


def _administration(session, cipher, a: MedicationAdministration) -> dict:
    order = session.get(MedicationOrder, a.order_id)
    reason = pharmacy_text.administration_reason(session, cipher, a)
    return drop_none({
        "resourceType": "MedicationAdministration", "id": a.id, "meta": {"lastUpdated": iso(a.recorded_at)},
        "status": ADMIN_STATUS.get(a.status, "unknown"),
        "medicationCodeableConcept": coded(FORMULARY, order.drug_code if order else "unknown"),
        "subject": ref("Patient", a.patient_id), "effectiveDateTime": iso(a.recorded_at),
        "request": ref("MedicationRequest", a.order_id), "performer": [{"actor": user_ref(a.recorded_by)}],
        "statusReason": [{"text": reason}] if reason else [],
    })


def _service_request(session, cipher, o: ImagingOrder) -> dict:
    return drop_none({
        "resourceType": "ServiceRequest", "id": o.id, "meta": {"lastUpdated": iso(o.created_at)},
        "status": o.status, "intent": "order", "priority": o.priority if o.priority in (
            "routine", "urgent", "asap", "stat") else None,
        "category": [coded("http://snomed.info/sct", "363679005", "Imaging")],
        "code": coded(DICOM, o.modality), "bodySite": [{"text": o.body_site}],
        "reasonCode": [{"text": o.reason_code}], "subject": ref("Patient", o.patient_id),
        "encounter": ref("Encounter", o.encounter_id), "authoredOn": iso(o.created_at),
        "requester": user_ref(o.requested_by), "performer": [user_ref(o.assigned_to)] if o.assigned_to else [],
        "_policy": {"assigned_to": o.assigned_to},
    })


def _study(session, cipher, s: ImagingStudy) -> dict:
    order = session.get(ImagingOrder, s.order_id)
    return drop_none({
        "resourceType": "ImagingStudy", "id": s.id, "meta": {"lastUpdated": iso(s.received_at)},
        "status": "available", "subject": ref("Patient", s.patient_id),
        "encounter": ref("Encounter", order.encounter_id) if order else None,
        "started": iso(s.received_at), "basedOn": [ref("ServiceRequest", s.order_id)],
        "modality": [{"system": DICOM, "code": s.modality}] if s.modality else [],
        "_policy": {"assigned_to": order.assigned_to if order else None},
    })


def _report(session, cipher, r: DiagnosticReport) -> dict:
    order = session.get(ImagingOrder, r.order_id)
    return drop_none({
        "resourceType": "DiagnosticReport", "id": r.id, "meta": {"lastUpdated": iso(r.issued_at)},
        "status": r.status, "category": [coded("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")],
        "code": coded("urn:hms:imaging-findings", r.findings_code), "subject": ref("Patient", r.patient_id),
        "encounter": ref("Encounter", order.encounter_id) if order else None,
        "basedOn": [ref("ServiceRequest", r.order_id)], "imagingStudy": [ref("ImagingStudy", r.study_id)],
        "issued": iso(r.issued_at), "effectiveDateTime": iso(r.issued_at), "performer": [user_ref(r.issued_by)],
        "conclusion": imaging_reports.report_text(session, cipher, r).conclusion,
        "_policy": {"assigned_to": order.assigned_to if order else None},
    })


register(replace(read_only(
    name="MedicationRequest", policy_type="MedicationRequest", model=FhirRequest, table=MedicationOrder,
    to_fhir=_medication_request, date_of=lambda r: r.get("authoredOn"), date_col="created_at", documentation=""),
    stage=order_writes.medication_stage, documentation="Medication orders (formulary drugs); " + STAGED))
read_only(name="MedicationAdministration", policy_type="MedicationAdministration", model=FhirAdmin,
          table=MedicationAdministration, to_fhir=_administration, date_of=lambda r: r.get("effectiveDateTime"),
          encounter_col=None, date_col="recorded_at", documentation="The eMAR; " + JOURNEY_BY_API)
register(replace(read_only(
    name="ServiceRequest", policy_type="ServiceRequest", model=FhirServiceRequest, table=ImagingOrder,
    to_fhir=_service_request, date_of=lambda r: r.get("authoredOn"), date_col="created_at", documentation=""),
    stage=order_writes.imaging_stage, documentation="Imaging orders (code: a DICOM modality); " + STAGED))
read_only(name="ImagingStudy", policy_type="ImagingStudy", model=FhirStudy, table=ImagingStudy, to_fhir=_study,
          date_of=lambda r: r.get("started"), encounter_col=None, status_col=None, date_col="received_at",
          documentation="Studies attached to imaging orders (pixel data through the task API).")
read_only(name="DiagnosticReport", policy_type="DiagnosticReport", model=FhirReport, table=DiagnosticReport,
          to_fhir=_report, date_of=lambda r: r.get("issued"), encounter_col=None, date_col="issued_at",
          documentation="Radiology reports; " + JOURNEY_BY_API)

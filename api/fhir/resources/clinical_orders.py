"""Medication and imaging records as FHIR, read-only: MedicationRequest, MedicationAdministration
(pharmacy journey), ServiceRequest, ImagingStudy, DiagnosticReport (imaging journey).

Orders are placed through the task API, or by a FHIR create of a ServiceRequest or MedicationRequest,
which starts the same journey stage (``api.fhir.orders``, 202 until the stage has recorded the order).
Writes the journeys carry out: a MedicationAdministration create records the due dose on the eMAR and
an update marks it entered-in-error (``medication_writes``); an order's update cancels it (``order_updates``);
an ImagingStudy create delivers the order's study and a DiagnosticReport create completes its read
(``imaging_writes``, ``report_writes``, which also amend them). Imaging records carry the assigned radiologist to the policy (a radiologist sees the work assigned to them)."""
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
from api.fhir.resources import imaging_writes, medication_writes, order_updates, order_writes, report_writes
from api.fhir.resources.common import coded, drop_none, iso, ref, user_ref
from api.fhir.resources.identifiers import served as with_identifiers
from api.fhir.resources.tabled import read_only

FORMULARY = "urn:hms:formulary"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
REQUEST_STATUS = {"completed": "completed", "cancelled": "cancelled", "rejected": "cancelled",
                  "stopped": "stopped", "on-hold": "on-hold"}
ADMIN_STATUS = {"given": "completed", "held": "on-hold", "refused": "not-done", "missed": "not-done"}
STAGED = ("create starts the journey stage the task API's order route starts, validated the same way, for a "
          "patient with a stay in progress: 202 Accepted with Content-Location (readable once the stage has "
          "recorded it); idempotent on the first identifier; not inside transactions.")
MED_CANCEL = (" Update: status cancelled or stopped (statusReason required) cancels the course as the task API's "
              "cancel route does (attending physician; no further doses, unused stock returned) and answers the "
              "cancelled order; asking again is a no-op, a completed order is 409; any other change is 422 "
              "(cancel and order again); not inside transactions.")
IMAGING_REVOKE = (" Update: status revoked (attending physician) asks the journey to cancel the imaging stage, which "
                  "records the order revoked: 202 Accepted; asking again is a no-op, a completed order is 409; any "
                  "other change is 422; not inside transactions.")
EMAR = ("The eMAR. Create records the due dose of the order named by request, completing its administration task "
        "as the task API does (a nurse on the ward; status completed, on-hold or not-done = given, held or refused, "
        "statusReason required for the last two; subject, drug, dose and route those of the order; performer the "
        "caller; the record's time is when it is recorded): 201 with the record, 409 when no dose is due or it is "
        "recorded already. Update: status entered-in-error only (the record is kept, its corrector noted); any "
        "other change is 422. Not inside transactions.")


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
        "resourceType": "MedicationAdministration", "id": a.id,
        "meta": {"lastUpdated": iso(a.entered_in_error_at or a.recorded_at)},
        "status": "entered-in-error" if a.entered_in_error_at else ADMIN_STATUS.get(a.status, "unknown"),
        "medicationCodeableConcept": coded(FORMULARY, order.drug_code if order else "unknown"),
        "subject": ref("Patient", a.patient_id), "effectiveDateTime": iso(a.recorded_at),
        "request": ref("MedicationRequest", a.order_id), "performer": [{"actor": user_ref(a.recorded_by)}],
        "statusReason": [{"text": reason}] if reason else [],
        "note": [{"authorReference": user_ref(a.entered_in_error_by), "time": iso(a.entered_in_error_at),
                  "text": "entered in error"}] if a.entered_in_error_at else [],
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


register(with_identifiers(replace(read_only(
    name="MedicationRequest", policy_type="MedicationRequest", model=FhirRequest, table=MedicationOrder,
    to_fhir=_medication_request, date_of=lambda r: r.get("authoredOn"), date_col="created_at", documentation=""),
    stage=order_writes.medication_stage, journey_update=order_updates.medication_request_update,
    documentation="Medication orders (formulary drugs); " + STAGED + MED_CANCEL)))
register(replace(read_only(
    name="MedicationAdministration", policy_type="MedicationAdministration", model=FhirAdmin,
    table=MedicationAdministration, to_fhir=_administration, date_of=lambda r: r.get("effectiveDateTime"),
    encounter_col=None, date_col="recorded_at", documentation=""),
    journey_create=medication_writes.record_dose, journey_update=medication_writes.correct_record,
    documentation=EMAR))
register(with_identifiers(replace(read_only(
    name="ServiceRequest", policy_type="ServiceRequest", model=FhirServiceRequest, table=ImagingOrder,
    to_fhir=_service_request, date_of=lambda r: r.get("authoredOn"), date_col="created_at", documentation=""),
    stage=order_writes.imaging_stage, journey_update=order_updates.service_request_update,
    documentation="Imaging orders (code: a DICOM modality); " + STAGED + IMAGING_REVOKE)))
register(replace(read_only(
    name="ImagingStudy", policy_type="ImagingStudy", model=FhirStudy, table=ImagingStudy,
    to_fhir=imaging_writes.versioned(_study), date_of=lambda r: r.get("started"), encounter_col=None,
    status_col=None, date_col="received_at", documentation=""),
    journey_create=imaging_writes.create, new_id=imaging_writes.new_id, update=imaging_writes.update,
    policy_extra=imaging_writes.policy_extra,
    documentation="Studies of imaging orders. Create delivers the study of the order in basedOn (required) to its "
                  "imaging workflow as the task API's study route does with a reference: identified by its Study "
                  "Instance UID (identifier urn:dicom:uid, urn:oid:...; pixel data only through the task API, so the "
                  "AI pre-screen answers unavailable), for the order's patient (422), while the order waits for "
                  "one (409); 201 with the registered study. Update sets the description (sealed); a study status "
                  "is not kept (422; 409 once reported). Not inside transactions."))
register(replace(read_only(
    name="DiagnosticReport", policy_type="DiagnosticReport", model=FhirReport, table=DiagnosticReport,
    to_fhir=report_writes.versioned(_report), date_of=lambda r: r.get("issued"), encounter_col=None,
    date_col="issued_at", documentation=""),
    journey_create=report_writes.create, new_id=report_writes.new_id, update=report_writes.update,
    policy_extra=imaging_writes.policy_extra,
    documentation="Radiology reports. Create completes the report task of the order in basedOn through its imaging "
                  "workflow, as the task API does (status final; conclusion; conclusionCode: a findings code and a "
                  "v3-ObservationInterpretation A/N; presentedForm: the impression, text/plain): 201 with the "
                  "report; 403 unless the assigned radiologist; 409 when no report is due or it is reported. Update "
                  "amends (status amended, corrected or appended; new conclusion or text) as a new version, the "
                  "replaced one kept sealed; codes are not amended (422). Creates not inside transactions."))

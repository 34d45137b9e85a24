package hms.authz.clinical_test

import data.hms.authz.fixtures_test as f
import rego.v1

other_patient(t) := f.res_with(t, {"patient_id": "p2", "ward": "surgical", "care_teams": ["team-b"], "attending": "attending-2"})

cases := {
	# registration_clerk
	"reg_creates_patient": f.req(f.registration, "create", f.res("Patient")),
	"reg_reads_demographics": f.req(f.registration, "read", f.res("Patient")),
	"reg_starts_admission": f.req(f.registration, "create", f.res("Admission")),
	"reg_records_consent": f.req(f.registration, "create", f.res("Consent")),
	"reg_reads_observation": f.req(f.registration, "read", f.res("Observation")),
	"reg_reads_condition": f.req(f.registration, "read", f.res("Condition")),
	"reg_deletes_patient": f.req(f.registration, "delete", f.res("Patient")),
	# triage_nurse / nurse
	"nurse_records_vitals_on_ward": f.req(f.nurse_medical, "create", f.res("Observation")),
	"nurse_reads_vitals_on_ward": f.req(f.nurse_medical, "read", f.res("Observation")),
	"nurse_gives_medication_on_ward": f.req(f.nurse_medical, "create", f.res("MedicationAdministration")),
	"nurse_scores_triage_on_ward": f.req(f.nurse_medical, "create", f.res("TriageScore")),
	"nurse_vitals_other_ward": f.req(f.nurse_psych, "read", f.res("Observation")),
	"triage_nurse_scores_in_emergency": f.req(f.triage_nurse, "create", f.res_with("TriageScore", {"ward": "emergency"})),
	"triage_nurse_scores_on_medical": f.req(f.triage_nurse, "create", f.res("TriageScore")),
	"nurse_orders_medication": f.req(f.nurse_medical, "create", f.res("MedicationRequest")),
	"nurse_reads_imaging_study": f.req(f.nurse_medical, "read", f.res("ImagingStudy")),
	# attending_physician
	"attending_reads_note_on_team": f.req(f.attending1, "read", f.res("Note")),
	"attending_orders_medication_on_team": f.req(f.attending1, "create", f.res("MedicationRequest")),
	"attending_orders_imaging_on_team": f.req(f.attending1, "create", f.res("ServiceRequest")),
	"attending_reads_other_team": f.req(f.attending2, "read", f.res("Observation")),
	"attending_writes_other_team": f.req(f.attending2, "create", f.res("Note")),
	"attending_decodes_payload_on_team": f.req(f.attending1, "read", f.res("CodecDecode")),
	"attending_decodes_other_team": f.req(f.attending2, "read", f.res("CodecDecode")),
	"attending_reads_invoice": f.req(f.attending1, "read", f.res("Invoice")),
	# radiologist
	"rad_reads_assigned_order": f.req(f.radiologist, "read", f.res_with("ServiceRequest", {"assigned_to": "radiologist-1"})),
	"rad_writes_assigned_report": f.req(f.radiologist, "create", f.res_with("DiagnosticReport", {"assigned_to": "radiologist-1"})),
	"rad_updates_assigned_study": f.req(f.radiologist, "update", f.res_with("ImagingStudy", {"assigned_to": "radiologist-1"})),
	"rad_reads_unassigned_study": f.req(f.radiologist, "read", f.res_with("ImagingStudy", {"assigned_to": "radiologist-2"})),
	"rad_reads_study_no_assignee": f.req(f.radiologist, "read", f.res("ImagingStudy")),
	"rad_reads_context_condition": f.req(f.radiologist, "read", f.res_with("Condition", {"assigned_to": "radiologist-1"})),
	"rad_reads_context_patient": f.req(f.radiologist, "read", f.res_with("Patient", {"assigned_to": "radiologist-1"})),
	"rad_reads_context_other_patient": f.req(f.radiologist, "read", other_patient("Condition")),
	"rad_reads_note": f.req(f.radiologist, "read", f.res_with("Note", {"assigned_to": "radiologist-1"})),
	"rad_reads_medication": f.req(f.radiologist, "read", f.res_with("MedicationRequest", {"assigned_to": "radiologist-1"})),
	# pharmacist
	"pharm_reads_order_inpatient": f.req(f.pharmacist, "read", f.res("MedicationRequest")),
	"pharm_verifies_order_inpatient": f.req(f.pharmacist, "update", f.res("MedicationRequest")),
	"pharm_reads_allergy_inpatient": f.req(f.pharmacist, "read", f.res("AllergyIntolerance")),
	"pharm_reads_labs_inpatient": f.req(f.pharmacist, "read", f.res("Observation")),
	"pharm_reads_order_outpatient": f.req(f.pharmacist, "read", f.res_with("MedicationRequest", {"inpatient": false})),
	"pharm_reads_condition": f.req(f.pharmacist, "read", f.res("Condition")),
	# billing_clerk
	"billing_reads_encounter": f.req(f.billing, "read", f.res("Encounter")),
	"billing_creates_charge": f.req(f.billing, "create", f.res("ChargeItem")),
	"billing_updates_invoice": f.req(f.billing, "update", f.res("Invoice")),
	"billing_submits_claim": f.req(f.billing, "create", f.res("Claim")),
	"billing_reads_coverage": f.req(f.billing, "read", f.res("Coverage")),
	"billing_reads_demographics": f.req(f.billing, "read", f.res("Patient")),
	"billing_reads_diagnosis": f.req(f.billing, "read", f.res("Condition")),
	"billing_reads_observation": f.req(f.billing, "read", f.res("Observation")),
	"billing_reads_medication": f.req(f.billing, "read", f.res("MedicationRequest")),
	# patient
	"patient_reads_own_observation": f.req(f.patient_p1, "read", f.res("Observation")),
	"patient_reads_own_note": f.req(f.patient_p1, "read", f.res("Note")),
	"patient_reads_own_psy_note": f.req(f.patient_p1, "read", f.psy("Note")),
	"patient_reads_own_invoice": f.req(f.patient_p1, "read", f.res("Invoice")),
	"patient_reads_own_consent": f.req(f.patient_p1, "read", f.res("Consent")),
	"patient_withdraws_own_consent": f.req(f.patient_p1, "update", f.res("Consent")),
	"patient_reads_other_patient": f.req(f.patient_p1, "read", other_patient("Observation")),
	"patient_updates_other_consent": f.req(f.patient_p1, "update", other_patient("Consent")),
	"patient_writes_own_note": f.req(f.patient_p1, "create", f.res("Note")),
	"patient_reads_aggregate": f.req(f.patient_p1, "read", {"type": "Aggregate", "id": "occupancy"}),
}

test_registration_registers_and_admits if {
	f.allowed("clinical", "reg_creates_patient")
	f.allowed("clinical", "reg_reads_demographics")
	f.allowed("clinical", "reg_starts_admission")
	f.allowed("clinical", "reg_records_consent")
}

test_registration_never_clinical_content if {
	f.denied("clinical", "reg_reads_observation")
	f.denied("clinical", "reg_reads_condition")
	f.denied("clinical", "reg_deletes_patient")
}

test_nurse_vitals_medication_triage_on_ward if {
	f.allowed("clinical", "nurse_records_vitals_on_ward")
	f.allowed("clinical", "nurse_reads_vitals_on_ward")
	f.allowed("clinical", "nurse_gives_medication_on_ward")
	f.allowed("clinical", "nurse_scores_triage_on_ward")
	contains(f.reason("clinical", "nurse_reads_vitals_on_ward"), "on the patient's ward")
}

test_nurse_denied_off_ward if {
	f.denied("clinical", "nurse_vitals_other_ward")
	contains(f.reason("clinical", "nurse_vitals_other_ward"), "not on the patient's ward")
}

test_triage_nurse_scoped_to_own_ward if {
	f.allowed("clinical", "triage_nurse_scores_in_emergency")
	f.denied("clinical", "triage_nurse_scores_on_medical")
}

test_nurse_cannot_prescribe_or_read_imaging if {
	f.denied("clinical", "nurse_orders_medication")
	f.denied("clinical", "nurse_reads_imaging_study")
}

test_attending_on_care_team_has_everything if {
	f.allowed("clinical", "attending_reads_note_on_team")
	f.allowed("clinical", "attending_orders_medication_on_team")
	f.allowed("clinical", "attending_orders_imaging_on_team")
	f.allowed("clinical", "attending_decodes_payload_on_team")
	contains(f.reason("clinical", "attending_reads_note_on_team"), "on the patient's care team")
}

test_attending_other_team_denied if {
	f.denied("clinical", "attending_reads_other_team")
	f.denied("clinical", "attending_writes_other_team")
	f.denied("clinical", "attending_decodes_other_team")
	contains(f.reason("clinical", "attending_reads_other_team"), "no active break-glass grant")
}

test_attending_has_no_billing_records if {
	f.denied("clinical", "attending_reads_invoice")
}

test_radiologist_assigned_imaging_work if {
	f.allowed("clinical", "rad_reads_assigned_order")
	f.allowed("clinical", "rad_writes_assigned_report")
	f.allowed("clinical", "rad_updates_assigned_study")
	contains(f.reason("clinical", "rad_reads_assigned_order"), "assigned to this imaging work")
}

test_radiologist_unassigned_work_denied if {
	f.denied("clinical", "rad_reads_unassigned_study")
	f.denied("clinical", "rad_reads_study_no_assignee")
}

test_radiologist_context_of_assigned_patient if {
	f.allowed("clinical", "rad_reads_context_condition")
	f.allowed("clinical", "rad_reads_context_patient")
	f.denied("clinical", "rad_reads_context_other_patient")
}

test_radiologist_other_clinical_content_denied if {
	f.denied("clinical", "rad_reads_note")
	f.denied("clinical", "rad_reads_medication")
}

test_pharmacist_inpatient_medication_allergies_labs if {
	f.allowed("clinical", "pharm_reads_order_inpatient")
	f.allowed("clinical", "pharm_verifies_order_inpatient")
	f.allowed("clinical", "pharm_reads_allergy_inpatient")
	f.allowed("clinical", "pharm_reads_labs_inpatient")
	contains(f.reason("clinical", "pharm_reads_order_inpatient"), "for an inpatient")
}

test_pharmacist_outpatient_and_other_content_denied if {
	f.denied("clinical", "pharm_reads_order_outpatient")
	f.denied("clinical", "pharm_reads_condition")
}

test_billing_financial_and_demographic_records if {
	f.allowed("clinical", "billing_reads_encounter")
	f.allowed("clinical", "billing_creates_charge")
	f.allowed("clinical", "billing_updates_invoice")
	f.allowed("clinical", "billing_submits_claim")
	f.allowed("clinical", "billing_reads_coverage")
	f.allowed("clinical", "billing_reads_demographics")
	f.allowed("clinical", "billing_reads_diagnosis")
}

test_billing_clinical_detail_denied if {
	f.denied("clinical", "billing_reads_observation")
	f.denied("clinical", "billing_reads_medication")
}

test_patient_reads_own_records if {
	f.allowed("clinical", "patient_reads_own_observation")
	f.allowed("clinical", "patient_reads_own_note")
	f.allowed("clinical", "patient_reads_own_psy_note")
	f.allowed("clinical", "patient_reads_own_invoice")
	contains(f.reason("clinical", "patient_reads_own_note"), "for their own record")
}

test_patient_own_consents if {
	f.allowed("clinical", "patient_reads_own_consent")
	f.allowed("clinical", "patient_withdraws_own_consent")
}

test_patient_nobody_elses_records if {
	f.denied("clinical", "patient_reads_other_patient")
	f.denied("clinical", "patient_updates_other_consent")
	f.reason("clinical", "patient_reads_other_patient") == "patient may only access their own records"
}

test_patient_cannot_write_or_see_aggregates if {
	f.denied("clinical", "patient_writes_own_note")
	f.denied("clinical", "patient_reads_aggregate")
}

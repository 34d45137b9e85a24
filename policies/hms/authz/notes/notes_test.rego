package hms.authz.notes_test

import data.hms.authz.fixtures_test as f
import rego.v1

psy_note := f.psy("Note")

cases := {
	"attending_reads_psy_note_on_team": f.req(f.attending1, "read", psy_note),
	"attending_reads_psy_note_other_team": f.req(f.attending2, "read", psy_note),
	"nurse_on_ward_not_team_reads_psy_note": f.req(f.nurse_medical, "read", psy_note),
	"nurse_on_ward_and_team_reads_psy_note": f.req(object.union(f.nurse_medical, {"care_teams": ["team-a"]}), "read", psy_note),
	"nurse_reads_plain_note_on_ward": f.req(f.nurse_medical, "read", f.res("Note")),
	"nurse_reads_hiv_observation": f.req(f.nurse_medical, "read", f.res_with("Observation", {"security": ["HIV"]})),
	"billing_reads_psy_note": f.req(f.billing, "read", psy_note),
	"billing_reads_plain_note": f.req(f.billing, "read", f.res("Note")),
	"billing_reads_eth_encounter": f.req(f.billing, "read", f.res_with("Encounter", {"security": ["ETH"]})),
	"billing_reads_sdv_invoice": f.req(f.billing, "read", f.res_with("Invoice", {"security": ["SDV", "SEX"]})),
	"pharmacist_reads_note": f.req(f.pharmacist, "read", f.res("Note")),
	"pharmacist_reads_hiv_medication": f.req(f.pharmacist, "read", f.res_with("MedicationRequest", {"security": ["HIV"]})),
	"registration_reads_psy_patient": f.req(f.registration, "read", f.res_with("Patient", {"security": ["PSY"]})),
	"rad_reads_psy_assigned_study": f.req(f.radiologist, "read", f.res_with("ImagingStudy", {"assigned_to": "radiologist-1", "security": ["PSY"]})),
	"rad_reads_psy_context": f.req(f.radiologist, "read", f.res_with("Condition", {"assigned_to": "radiologist-1", "security": ["PSY"]})),
	"attending_writes_psy_note": f.req(f.attending1, "create", psy_note),
	"compliance_reads_note": f.req(f.compliance, "read", f.res("Note")),
}

test_attending_sees_sensitive_on_care_team if {
	f.allowed("notes", "attending_reads_psy_note_on_team")
	f.allowed("notes", "attending_writes_psy_note")
}

test_attending_other_team_sensitive_denied if {
	f.denied("notes", "attending_reads_psy_note_other_team")
}

test_nurse_sensitive_only_on_care_team if {
	f.denied("notes", "nurse_on_ward_not_team_reads_psy_note")
	contains(f.reason("notes", "nurse_on_ward_not_team_reads_psy_note"), "sensitive-labelled (PSY)")
	f.allowed("notes", "nurse_on_ward_and_team_reads_psy_note")
	f.allowed("notes", "nurse_reads_plain_note_on_ward")
	f.denied("notes", "nurse_reads_hiv_observation")
}

test_billing_psychiatric_note_always_denied_with_reason if {
	f.denied("notes", "billing_reads_psy_note")
	r := f.reason("notes", "billing_reads_psy_note")
	contains(r, "billing_clerk may not access clinical notes")
	contains(r, "billing_clerk may not access sensitive-labelled resources (PSY)")
}

test_billing_never_any_note if {
	f.denied("notes", "billing_reads_plain_note")
	f.reason("notes", "billing_reads_plain_note") == "billing_clerk may not access clinical notes"
}

test_billing_never_any_sensitive_resource if {
	f.denied("notes", "billing_reads_eth_encounter")
	f.denied("notes", "billing_reads_sdv_invoice")
	contains(f.reason("notes", "billing_reads_sdv_invoice"), "(SDV,SEX)")
}

test_pharmacist_never_notes if {
	f.denied("notes", "pharmacist_reads_note")
	f.reason("notes", "pharmacist_reads_note") == "pharmacist may not access clinical notes"
}

test_pharmacist_labelled_medication_allowed if {
	f.allowed("notes", "pharmacist_reads_hiv_medication")
}

test_registration_sensitive_patient_denied if {
	f.denied("notes", "registration_reads_psy_patient")
}

test_radiologist_labelled_assigned_work_but_not_context if {
	f.allowed("notes", "rad_reads_psy_assigned_study")
	f.denied("notes", "rad_reads_psy_context")
}

test_compliance_never_notes if {
	f.denied("notes", "compliance_reads_note")
	f.reason("notes", "compliance_reads_note") == "compliance_officer may not access clinical content"
}

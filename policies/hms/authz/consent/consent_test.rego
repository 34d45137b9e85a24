package hms.authz.consent_test

import data.hms.authz.fixtures_test as f
import rego.v1

with_consent(t, state) := f.res_with(t, {"consent": state})

withdrawn(t) := with_consent(t, {"TREAT": "withdrawn", "HRESCH": null, "HMARKT": null})

purpose(p) := {"purpose": p, "now": f.now, "break_glass": null}

emergency := object.union(f.bg_ctx("p1"), {"purpose": "ETREAT"})

correction_task := f.res_with("Task", {"task_role": "registration_clerk"})

cases := {
	"attending_reads_withdrawn": f.req(f.attending1, "read", withdrawn("Observation")),
	"attending_reads_active": f.req(f.attending1, "read", with_consent("Observation", {"TREAT": "active"})),
	"attending_reads_unrecorded": f.req(f.attending1, "read", with_consent("Observation", {"TREAT": null})),
	"attending_reads_refused": f.req(f.attending1, "read", with_consent("Observation", {"TREAT": "rejected"})),
	"attending_reads_research_withdrawn": f.req(f.attending1, "read", with_consent("Observation", {"TREAT": "active", "HRESCH": "withdrawn"})),
	"research_use_withdrawn": f.req_ctx(f.attending1, "read", with_consent("Observation", {"TREAT": "active", "HRESCH": "withdrawn"}), purpose("HRESCH")),
	"attending_psy_note_withdrawn": f.req(f.attending1, "read", f.res_with("Note", {"security": ["PSY"], "consent": {"TREAT": "withdrawn"}})),
	"nurse_vitals_withdrawn": f.req(f.nurse_medical, "create", withdrawn("Observation")),
	"attending_orders_imaging_withdrawn": f.req(f.attending1, "create", withdrawn("ServiceRequest")),
	"attending_updates_journey_withdrawn": f.req(f.attending1, "update", withdrawn("Journey")),
	"nurse_task_withdrawn": f.req(f.nurse_medical, "complete", f.res_with("Task", {"task_role": "nurse", "consent": {"TREAT": "withdrawn"}})),
	"attending_discharges_withdrawn": f.req(f.attending1, "update", withdrawn("Encounter")),
	"attending_reads_encounter_withdrawn": f.req(f.attending1, "read", withdrawn("Encounter")),
	"attending_reads_consents_withdrawn": f.req(f.attending1, "read", withdrawn("Consent")),
	"emergency_on_team_withdrawn": f.req_ctx(f.attending1, "read", withdrawn("Observation"), emergency),
	"emergency_break_glass_withdrawn": f.req_ctx(f.attending2, "read", withdrawn("Note"), emergency),
	"emergency_without_relationship": f.req_ctx(f.attending2, "read", withdrawn("Observation"), purpose("ETREAT")),
	"grant_with_treat_purpose_withdrawn": f.req_ctx(f.attending2, "read", withdrawn("Observation"), object.union(f.bg_ctx("p1"), {"purpose": "TREAT"})),
	"patient_reads_own_withdrawn": f.req_ctx(f.patient_p1, "read", withdrawn("Observation"), purpose("PATRQT")),
	"billing_invoice_withdrawn": f.req_ctx(f.billing, "read", withdrawn("Invoice"), purpose("HPAYMT")),
	"registration_demographics_withdrawn": f.req_ctx(f.registration, "read", withdrawn("Patient"), purpose("HOPERAT")),
	"patient_grants_own": f.req_ctx(f.patient_p1, "create", f.res("Consent"), purpose("PATRQT")),
	"patient_withdraws_own": f.req_ctx(f.patient_p1, "update", f.res("Consent"), purpose("PATRQT")),
	"patient_reads_own_consents": f.req_ctx(f.patient_p1, "read", f.res("Consent"), purpose("PATRQT")),
	"patient_withdraws_other": f.req_ctx(f.patient_p1, "update", f.res_with("Consent", {"patient_id": "p2"}), purpose("PATRQT")),
	"unlinked_patient_withdraws": f.req_ctx(object.union(f.patient_p1, {"patient_id": null}), "update", f.res("Consent"), purpose("PATRQT")),
	"registration_records": f.req_ctx(f.registration, "create", f.res("Consent"), purpose("HOPERAT")),
	"registration_withdraws_for_patient": f.req_ctx(f.registration, "update", f.res("Consent"), purpose("HOPERAT")),
	"registration_reads_consents": f.req_ctx(f.registration, "read", f.res("Consent"), purpose("HOPERAT")),
	"attending_reads_consents_on_team": f.req(f.attending1, "read", f.res("Consent")),
	"attending_reads_consents_other_team": f.req(f.attending2, "read", f.res("Consent")),
	"attending_records_consent": f.req(f.attending1, "create", f.res("Consent")),
	"nurse_withdraws_consent": f.req(f.nurse_medical, "update", f.res("Consent")),
	"billing_reads_consents": f.req_ctx(f.billing, "read", f.res("Consent"), purpose("HPAYMT")),
	"manager_reads_consents": f.req(f.manager, "read", f.res("Consent")),
	"registration_lists_correction_tasks": f.req_ctx(f.registration, "list", {"type": "Task", "id": null, "patient_id": null, "task_role": "registration_clerk"}, purpose("HOPERAT")),
	"registration_lists_nurse_tasks": f.req_ctx(f.registration, "list", {"type": "Task", "id": null, "patient_id": null, "task_role": "nurse"}, purpose("HOPERAT")),
	"registration_completes_correction": f.req_ctx(f.registration, "complete", correction_task, purpose("HOPERAT")),
	"registration_completes_correction_withdrawn": f.req_ctx(f.registration, "complete", f.res_with("Task", {"task_role": "registration_clerk", "consent": {"TREAT": "withdrawn"}}), purpose("HOPERAT")),
	"registration_completes_nurse_task": f.req_ctx(f.registration, "complete", f.res_with("Task", {"task_role": "nurse"}), purpose("HOPERAT")),
	"patient_completes_correction": f.req_ctx(f.patient_p1, "complete", correction_task, purpose("PATRQT")),
	"patient_requests_correction_withdrawn": f.req_ctx(f.patient_p1, "create", f.res_with("Task", {"task_role": "registration_clerk", "consent": {"TREAT": "withdrawn"}}), purpose("PATRQT")),
}

test_withdrawn_treatment_consent_stops_clinical_processing if {
	f.denied("consent", "attending_reads_withdrawn")
	f.denied("consent", "attending_psy_note_withdrawn")
	f.denied("consent", "nurse_vitals_withdrawn")
	f.denied("consent", "attending_orders_imaging_withdrawn")
	f.denied("consent", "attending_updates_journey_withdrawn")
	f.denied("consent", "nurse_task_withdrawn")
	f.denied("consent", "attending_reads_encounter_withdrawn")
	f.reason("consent", "attending_reads_withdrawn") == "the patient has withdrawn consent to TREAT; only emergency treatment (ETREAT, under break-glass) may proceed"
}

test_refused_consent_is_treated_as_withdrawn if {
	f.denied("consent", "attending_reads_refused")
	contains(f.reason("consent", "attending_reads_refused"), "rejected consent to TREAT")
}

test_active_or_unrecorded_consent_does_not_block if {
	f.allowed("consent", "attending_reads_active")
	f.allowed("consent", "attending_reads_unrecorded")
}

test_consent_is_per_purpose if {
	f.allowed("consent", "attending_reads_research_withdrawn")
	f.denied("consent", "research_use_withdrawn")
	contains(f.reason("consent", "research_use_withdrawn"), "withdrawn consent to HRESCH")
}

test_emergency_treatment_proceeds_and_says_so if {
	f.allowed("consent", "emergency_on_team_withdrawn")
	endswith(f.reason("consent", "emergency_on_team_withdrawn"), "[purpose ETREAT]")
	f.allowed("consent", "emergency_break_glass_withdrawn")
	startswith(f.reason("consent", "emergency_break_glass_withdrawn"), "break-glass: ")
	endswith(f.reason("consent", "emergency_break_glass_withdrawn"), "[purpose ETREAT]")
}

test_emergency_purpose_never_widens_relationships if {
	f.denied("consent", "emergency_without_relationship")
	f.denied("consent", "grant_with_treat_purpose_withdrawn")
}

test_withdrawal_leaves_the_stay_endable_and_consents_readable if {
	f.allowed("consent", "attending_discharges_withdrawn")
	f.allowed("consent", "attending_reads_consents_withdrawn")
}

test_non_treatment_purposes_continue if {
	f.allowed("consent", "patient_reads_own_withdrawn")
	endswith(f.reason("consent", "patient_reads_own_withdrawn"), "[purpose PATRQT]")
	f.allowed("consent", "billing_invoice_withdrawn")
	f.allowed("consent", "registration_demographics_withdrawn")
	f.allowed("consent", "registration_completes_correction_withdrawn")
	f.allowed("consent", "patient_requests_correction_withdrawn")
}

test_patient_manages_own_consents_only if {
	f.allowed("consent", "patient_grants_own")
	f.allowed("consent", "patient_withdraws_own")
	f.allowed("consent", "patient_reads_own_consents")
	f.denied("consent", "patient_withdraws_other")
	f.denied("consent", "unlinked_patient_withdraws")
}

test_registration_records_and_withdraws_on_behalf if {
	f.allowed("consent", "registration_records")
	f.allowed("consent", "registration_withdraws_for_patient")
	f.allowed("consent", "registration_reads_consents")
}

test_consents_read_by_the_care_team_only if {
	f.allowed("consent", "attending_reads_consents_on_team")
	f.denied("consent", "attending_reads_consents_other_team")
	f.denied("consent", "billing_reads_consents")
	f.denied("consent", "manager_reads_consents")
}

test_only_registration_and_the_patient_change_consents if {
	f.denied("consent", "attending_records_consent")
	f.denied("consent", "nurse_withdraws_consent")
}

test_registration_works_correction_tasks_only if {
	f.allowed("consent", "registration_lists_correction_tasks")
	f.denied("consent", "registration_lists_nurse_tasks")
	f.allowed("consent", "registration_completes_correction")
	f.denied("consent", "registration_completes_nurse_task")
	f.denied("consent", "patient_completes_correction")
}

package hms.authz.breakglass_test

import data.hms.authz.fixtures_test as f
import rego.v1

request := {"type": "BreakGlass", "id": null, "patient_id": "p1"}

bg := f.bg_ctx("p1")

cases := {
	"attending_requests": f.req(f.attending2, "create", request),
	"nurse_requests": f.req(f.nurse_psych, "create", request),
	"triage_requests": f.req(f.triage_nurse, "create", request),
	"radiologist_requests": f.req(f.radiologist, "create", request),
	"pharmacist_requests": f.req(f.pharmacist, "create", request),
	"holder_ends_own_grant": f.req(f.attending2, "update", {"type": "BreakGlass", "id": "bg-1", "patient_id": "p1", "holder": "attending-2"}),
	"other_clinician_ends_grant": f.req(f.attending1, "update", {"type": "BreakGlass", "id": "bg-1", "patient_id": "p1", "holder": "attending-2"}),
	"holderless_grant_end": f.req(f.attending2, "update", {"type": "BreakGlass", "id": "bg-1", "patient_id": "p1"}),
	"request_without_patient": f.req(f.attending2, "create", {"type": "BreakGlass", "patient_id": null}),
	"billing_requests": f.req(f.billing, "create", request),
	"manager_requests": f.req(f.manager, "create", request),
	"admin_requests": f.req(f.admin, "create", request),
	"compliance_requests": f.req(f.compliance, "create", request),
	"registration_requests": f.req(f.registration, "create", request),
	"patient_requests": f.req(f.patient_p1, "create", request),
	"attending_other_team_with_grant": f.req_ctx(f.attending2, "read", f.res("Observation"), bg),
	"attending_other_team_psy_with_grant": f.req_ctx(f.attending2, "read", f.psy("Note"), bg),
	"attending_grant_names_purpose": f.req_ctx(f.attending2, "read", f.res("Note"), object.union(bg, {"purpose": "TREAT"})),
	"attending_grant_expired": f.req_ctx(f.attending2, "read", f.res("Observation"), f.bg_ctx_expired("p1")),
	"attending_grant_other_patient": f.req_ctx(f.attending2, "read", f.res("Observation"), f.bg_ctx("p2")),
	"attending_grant_without_clock": f.req_ctx(f.attending2, "read", f.res("Observation"), {"break_glass": {"patient_id": "p1", "expires_at": "2026-11-25T14:00:00Z"}}),
	"attending_grant_garbage_expiry": f.req_ctx(f.attending2, "read", f.res("Observation"), {"now": f.now, "break_glass": {"patient_id": "p1", "expires_at": "soon"}}),
	"attending_on_team_with_grant": f.req_ctx(f.attending1, "read", f.res("Observation"), bg),
	"nurse_off_ward_with_grant": f.req_ctx(f.nurse_psych, "read", f.res("Observation"), bg),
	"nurse_psy_note_with_grant": f.req_ctx(f.nurse_psych, "read", f.psy("Note"), bg),
	"nurse_prescribes_with_grant": f.req_ctx(f.nurse_psych, "create", f.res("MedicationRequest"), bg),
	"nurse_task_with_grant": f.req_ctx(f.nurse_psych, "complete", f.res_with("Task", {"task_role": "nurse"}), bg),
	"pharmacist_outpatient_with_grant": f.req_ctx(f.pharmacist, "read", f.res_with("MedicationRequest", {"inpatient": false}), bg),
	"pharmacist_note_with_grant": f.req_ctx(f.pharmacist, "read", f.res("Note"), bg),
	"radiologist_unassigned_with_grant": f.req_ctx(f.radiologist, "read", f.res("ImagingStudy"), bg),
	"radiologist_psy_context_with_grant": f.req_ctx(f.radiologist, "read", f.psy("Condition"), bg),
	"billing_with_grant": f.req_ctx(f.billing, "read", f.res("Observation"), bg),
	"billing_psy_note_with_grant": f.req_ctx(f.billing, "read", f.psy("Note"), bg),
	"manager_with_grant": f.req_ctx(f.manager, "read", f.res("Patient"), bg),
	"admin_with_grant": f.req_ctx(f.admin, "read", f.res("Patient"), bg),
	"compliance_with_grant": f.req_ctx(f.compliance, "read", f.res("Note"), bg),
	"registration_with_grant": f.req_ctx(f.registration, "read", f.res("Observation"), bg),
}

test_clinical_roles_may_request_break_glass if {
	f.allowed("breakglass", "attending_requests")
	f.allowed("breakglass", "nurse_requests")
	f.allowed("breakglass", "triage_requests")
	f.allowed("breakglass", "radiologist_requests")
	f.allowed("breakglass", "pharmacist_requests")
}

test_break_glass_request_names_a_patient if {
	f.denied("breakglass", "request_without_patient")
}

test_non_clinical_roles_may_not_request if {
	f.denied("breakglass", "billing_requests")
	f.denied("breakglass", "manager_requests")
	f.denied("breakglass", "admin_requests")
	f.denied("breakglass", "compliance_requests")
	f.denied("breakglass", "registration_requests")
	f.denied("breakglass", "patient_requests")
	f.reason("breakglass", "billing_requests") == "break-glass is only for clinical roles"
}

test_grant_opens_other_patient_and_says_break_glass if {
	f.allowed("breakglass", "attending_other_team_with_grant")
	f.allowed("breakglass", "attending_other_team_psy_with_grant")
	startswith(f.reason("breakglass", "attending_other_team_with_grant"), "break-glass: ")
	contains(f.reason("breakglass", "attending_other_team_with_grant"), "[purpose ETREAT]")
}

test_stated_purpose_is_carried if {
	f.allowed("breakglass", "attending_grant_names_purpose")
	endswith(f.reason("breakglass", "attending_grant_names_purpose"), "[purpose TREAT]")
}

test_expired_wrong_patient_or_unclocked_grant_denied if {
	f.denied("breakglass", "attending_grant_expired")
	f.denied("breakglass", "attending_grant_other_patient")
	f.denied("breakglass", "attending_grant_without_clock")
	f.denied("breakglass", "attending_grant_garbage_expiry")
}

test_ordinary_access_is_not_flagged if {
	f.allowed("breakglass", "attending_on_team_with_grant")
	not startswith(f.reason("breakglass", "attending_on_team_with_grant"), "break-glass")
}

test_grant_replaces_relationship_not_role_limits if {
	f.allowed("breakglass", "nurse_off_ward_with_grant")
	f.allowed("breakglass", "nurse_psy_note_with_grant")
	f.denied("breakglass", "nurse_prescribes_with_grant")
	f.denied("breakglass", "nurse_task_with_grant")
	f.allowed("breakglass", "pharmacist_outpatient_with_grant")
	f.denied("breakglass", "pharmacist_note_with_grant")
	f.allowed("breakglass", "radiologist_unassigned_with_grant")
	f.denied("breakglass", "radiologist_psy_context_with_grant")
}

test_grant_never_helps_non_clinical_roles if {
	f.denied("breakglass", "billing_with_grant")
	f.denied("breakglass", "billing_psy_note_with_grant")
	f.denied("breakglass", "manager_with_grant")
	f.denied("breakglass", "admin_with_grant")
	f.denied("breakglass", "compliance_with_grant")
	f.denied("breakglass", "registration_with_grant")
}

test_only_the_holder_ends_a_grant if {
	f.allowed("breakglass", "holder_ends_own_grant")
	f.denied("breakglass", "other_clinician_ends_grant")
	f.denied("breakglass", "holderless_grant_end")
}

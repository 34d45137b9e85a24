package hms.authz.authz_test

import data.hms.authz.fixtures_test as f
import rego.v1

cases := {
	"admin_reads_vitals": f.req(f.admin, "read", f.res("Observation")),
	"pharmacist_deletes_order": f.req(f.pharmacist, "delete", f.res("MedicationRequest")),
	"subject_is_string": f.req("attending-1", "read", f.res("Patient")),
	"unknown_role": f.req({"id": "x-1", "role": "superuser"}, "read", f.res("Patient")),
	"unknown_action": f.req(f.attending1, "destroy", f.res("Patient")),
	"unknown_type": f.req(f.attending1, "read", f.res("Spaceship")),
	"resource_is_list": f.req(f.attending1, "read", ["Patient"]),
	"empty_subject_id": f.req({"id": "", "role": "attending_physician", "care_teams": ["team-a"]}, "read", f.res("Patient")),
	"everything_null": f.req_ctx(null, null, null, null),
	"context_is_string": f.req_ctx(f.attending1, "read", f.res("Patient"), "TREAT"),
	"context_null": f.req_ctx(f.attending1, "read", f.res("Patient"), null),
	"billing_states_purpose": f.req_ctx(f.billing, "read", f.res("Invoice"), {"purpose": "HPAYMT", "now": f.now}),
	"billing_no_purpose": f.req_ctx(f.billing, "read", f.res("Invoice"), {"now": f.now}),
	"billing_condition": f.req(f.billing, "read", f.res("Condition")),
	"billing_psy_condition": f.req(f.billing, "read", f.psy("Condition")),
	"attending_reads_patient": f.req(f.attending1, "read", f.res("Patient")),
}

test_other_role_denied_with_reason if {
	f.denied("authz", "admin_reads_vitals")
	startswith(f.reason("authz", "admin_reads_vitals"), "admin may not access patient data")
}

test_no_rule_reason_names_role_action_type if {
	f.denied("authz", "pharmacist_deletes_order")
	startswith(f.reason("authz", "pharmacist_deletes_order"), "no rule allows pharmacist to delete MedicationRequest")
}

test_malformed_subject_denied if {
	f.denied("authz", "subject_is_string")
	contains(f.reason("authz", "subject_is_string"), "malformed input: ")
	contains(f.reason("authz", "subject_is_string"), "subject must be an object")
}

test_unknown_role_denied if {
	f.denied("authz", "unknown_role")
	contains(f.reason("authz", "unknown_role"), "unknown subject.role")
}

test_unknown_action_denied if {
	f.denied("authz", "unknown_action")
	contains(f.reason("authz", "unknown_action"), "unknown action")
}

test_unknown_type_denied if {
	f.denied("authz", "unknown_type")
	contains(f.reason("authz", "unknown_type"), "unknown resource.type")
}

test_resource_must_be_object if {
	f.denied("authz", "resource_is_list")
	contains(f.reason("authz", "resource_is_list"), "resource must be an object")
}

test_empty_subject_id_denied if {
	f.denied("authz", "empty_subject_id")
	contains(f.reason("authz", "empty_subject_id"), "subject.id must be a non-empty string")
}

test_all_null_denied if {
	f.denied("authz", "everything_null")
	startswith(f.reason("authz", "everything_null"), "malformed input: ")
}

test_context_must_be_object if {
	f.denied("authz", "context_is_string")
	contains(f.reason("authz", "context_is_string"), "context must be an object")
}

test_null_context_uses_role_purpose if {
	f.allowed("authz", "context_null")
	endswith(f.reason("authz", "context_null"), "[purpose TREAT]")
}

test_purpose_carried_into_reason if {
	f.allowed("authz", "billing_states_purpose")
	endswith(f.reason("authz", "billing_states_purpose"), "[purpose HPAYMT]")
}

test_default_purpose_per_role if {
	endswith(f.reason("authz", "billing_no_purpose"), "[purpose HPAYMT]")
}

test_denial_wins_over_grant if {
	f.allowed("authz", "billing_condition")
	f.denied("authz", "billing_psy_condition")
	contains(f.reason("authz", "billing_psy_condition"), "sensitive-labelled")
}

test_decision_has_exactly_allow_and_reason if {
	d := f.results.authz.attending_reads_patient
	is_boolean(d.allow)
	is_string(d.reason)
	count(object.keys(d)) == 2
}

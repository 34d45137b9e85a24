package hms.authz.common_test

import data.hms.authz.common
import data.hms.authz.fixtures_test as f
import rego.v1

cases := {
	"care_team_by_attending_field": f.req(f.attending2, "read", f.res_with("Note", {"attending": "attending-2"})),
	"null_care_teams": f.req(f.attending1, "read", f.res_with("Note", {"care_teams": null, "attending": null})),
	"ward_as_string_list_mismatch": f.req(object.union(f.nurse_medical, {"wards": "medical"}), "read", f.res("Observation")),
	"null_patient_ids_do_not_match": f.req(object.union(f.patient_p1, {"patient_id": null}), "read", f.res_with("Observation", {"patient_id": null})),
	"assigned_as_list": f.req(f.radiologist, "read", f.res_with("ImagingStudy", {"assigned_to": ["radiologist-2", "radiologist-1"]})),
	"unknown_labels_not_sensitive": f.req(f.billing, "read", f.res_with("Condition", {"security": ["N", "R"]})),
	"lowercase_label": f.req(f.billing, "read", f.res_with("Condition", {"security": ["psy"]})),
	"coding_label": f.req(f.billing, "read", f.res_with("Condition", {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}]})),
}

test_ns_parses_z_and_offsets if {
	common.ns("2026-11-25T14:00:00Z") == common.ns("2026-11-25T14:00:00+00:00")
	common.ns("2026-11-25T14:00:00+01:00") < common.ns("2026-11-25T14:00:00Z")
	common.ns("2026-11-25T14:00:00.5Z") > common.ns("2026-11-25T14:00:00Z")
}

test_ns_undefined_on_garbage if {
	not common.ns("yesterday")
}

test_attending_field_counts_as_care_team if {
	f.allowed("common", "care_team_by_attending_field")
}

test_null_care_teams_never_match if {
	f.denied("common", "null_care_teams")
}

test_wards_must_be_a_list if {
	f.denied("common", "ward_as_string_list_mismatch")
}

test_null_patient_ids_never_match if {
	f.denied("common", "null_patient_ids_do_not_match")
}

test_assigned_to_may_be_a_list if {
	f.allowed("common", "assigned_as_list")
}

test_only_restricted_labels_are_sensitive if {
	f.allowed("common", "unknown_labels_not_sensitive")
}

test_labels_are_case_insensitive if {
	f.denied("common", "lowercase_label")
	contains(f.reason("common", "lowercase_label"), "(PSY)")
}

test_labels_may_be_fhir_codings if {
	f.denied("common", "coding_label")
	contains(f.reason("common", "coding_label"), "(HIV)")
}

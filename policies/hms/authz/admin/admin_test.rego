package hms.authz.admin_test

import data.hms.authz.fixtures_test as f
import rego.v1

occupancy := {"type": "Aggregate", "id": "occupancy", "patient_id": null, "deidentified": true}

cases := {
	"manager_reads_occupancy": f.req(f.manager, "read", occupancy),
	"manager_reads_forecast": f.req(f.manager, "read", {"type": "Forecast", "id": "admissions-7d"}),
	"manager_reads_staffing": f.req(f.manager, "search", {"type": "Aggregate", "id": "staffing"}),
	"manager_reads_deidentified_encounters": f.req(f.manager, "list", {"type": "Encounter", "patient_id": null, "deidentified": true}),
	"manager_reads_patient": f.req(f.manager, "read", f.res("Patient")),
	"manager_reads_observation": f.req(f.manager, "read", f.res("Observation")),
	"manager_aggregate_naming_patient": f.req(f.manager, "read", object.union(occupancy, {"patient_id": "p1"})),
	"manager_aggregate_identified": f.req(f.manager, "read", object.union(occupancy, {"deidentified": false})),
	"manager_lists_encounters_identified": f.req(f.manager, "list", {"type": "Encounter", "patient_id": null}),
	"manager_writes_forecast": f.req(f.manager, "create", {"type": "Forecast"}),
	"manager_reads_config": f.req(f.manager, "read", {"type": "Configuration"}),
	"admin_updates_config": f.req(f.admin, "update", {"type": "Configuration", "id": "wards"}),
	"admin_creates_user": f.req(f.admin, "create", {"type": "User", "id": "nurse-icu-1"}),
	"admin_deletes_user": f.req(f.admin, "delete", {"type": "User", "id": "nurse-icu-1"}),
	"admin_reads_patient": f.req(f.admin, "read", f.res("Patient")),
	"admin_decodes_payload": f.req(f.admin, "read", f.res("CodecDecode")),
	"admin_reads_aggregate": f.req(f.admin, "read", occupancy),
	"attending_updates_config": f.req(f.attending1, "update", {"type": "Configuration"}),
	"attending_reads_aggregate": f.req(f.attending1, "read", occupancy),
	"compliance_creates_user": f.req(f.compliance, "create", {"type": "User"}),
}

test_manager_sees_deidentified_aggregates if {
	f.allowed("admin", "manager_reads_occupancy")
	f.allowed("admin", "manager_reads_forecast")
	f.allowed("admin", "manager_reads_staffing")
	f.allowed("admin", "manager_reads_deidentified_encounters")
	contains(f.reason("admin", "manager_reads_occupancy"), "de-identified Aggregate")
}

test_manager_never_a_single_patient if {
	f.denied("admin", "manager_reads_patient")
	f.denied("admin", "manager_reads_observation")
	f.denied("admin", "manager_aggregate_naming_patient")
	f.denied("admin", "manager_lists_encounters_identified")
	f.reason("admin", "manager_reads_patient") == "manager may not access a single patient's record"
}

test_manager_identified_aggregate_denied if {
	f.denied("admin", "manager_aggregate_identified")
}

test_manager_read_only if {
	f.denied("admin", "manager_writes_forecast")
	f.denied("admin", "manager_reads_config")
}

test_admin_manages_configuration_and_users if {
	f.allowed("admin", "admin_updates_config")
	f.allowed("admin", "admin_creates_user")
	f.allowed("admin", "admin_deletes_user")
}

test_admin_no_patient_data if {
	f.denied("admin", "admin_reads_patient")
	f.denied("admin", "admin_decodes_payload")
	f.reason("admin", "admin_decodes_payload") == "admin may not access patient data"
	f.denied("admin", "admin_reads_aggregate")
}

test_others_cannot_administer if {
	f.denied("admin", "attending_updates_config")
	f.denied("admin", "attending_reads_aggregate")
	f.denied("admin", "compliance_creates_user")
}

package hms.authz.erasure_test

import data.hms.authz.fixtures_test as f
import rego.v1

request := {"type": "ErasureRequest", "id": null, "patient_id": "p1"}

hold := {"type": "LegalHold", "id": "hold-1", "patient_id": "p1"}

cases := {
	"patient_requests_own": f.req(f.patient_p1, "create", request),
	"patient_reads_own": f.req(f.patient_p1, "read", request),
	"patient_requests_other": f.req(f.patient_p1, "create", object.union(request, {"patient_id": "p2"})),
	"patient_places_hold": f.req(f.patient_p1, "create", hold),
	"compliance_requests": f.req(f.compliance, "create", request),
	"compliance_reads": f.req(f.compliance, "read", request),
	"compliance_places_hold": f.req(f.compliance, "create", hold),
	"compliance_lists_holds": f.req(f.compliance, "list", hold),
	"compliance_releases_hold": f.req(f.compliance, "update", hold),
	"compliance_deletes_request": f.req(f.compliance, "delete", request),
	"compliance_request_without_patient": f.req(f.compliance, "create", object.union(request, {"patient_id": null})),
	"attending_requests": f.req(f.attending1, "create", request),
	"attending_places_hold": f.req(f.attending1, "create", hold),
	"registration_requests": f.req(f.registration, "create", request),
	"billing_requests": f.req(f.billing, "create", request),
	"manager_requests": f.req(f.manager, "create", request),
	"admin_requests": f.req(f.admin, "create", request),
	"admin_places_hold": f.req(f.admin, "create", hold),
}

test_patient_may_request_own_erasure if {
	f.allowed("erasure", "patient_requests_own")
	f.allowed("erasure", "patient_reads_own")
	contains(f.reason("erasure", "patient_requests_own"), "own record")
}

test_patient_may_not_request_another_patients_erasure_or_place_holds if {
	f.denied("erasure", "patient_requests_other")
	f.denied("erasure", "patient_places_hold")
}

test_compliance_officer_handles_requests_and_holds if {
	f.allowed("erasure", "compliance_requests")
	f.allowed("erasure", "compliance_reads")
	f.allowed("erasure", "compliance_places_hold")
	f.allowed("erasure", "compliance_lists_holds")
	f.allowed("erasure", "compliance_releases_hold")
	contains(f.reason("erasure", "compliance_places_hold"), "LegalHold")
}

test_compliance_officer_may_not_delete_a_request if {
	f.denied("erasure", "compliance_deletes_request")
}

test_request_must_name_a_patient if {
	f.denied("erasure", "compliance_request_without_patient")
	contains(f.reason("erasure", "compliance_request_without_patient"), "exactly one patient")
}

test_other_roles_may_neither_request_nor_hold if {
	f.denied("erasure", "attending_requests")
	f.denied("erasure", "attending_places_hold")
	f.denied("erasure", "registration_requests")
	f.denied("erasure", "billing_requests")
	f.denied("erasure", "manager_requests")
	f.denied("erasure", "admin_requests")
	f.denied("erasure", "admin_places_hold")
}

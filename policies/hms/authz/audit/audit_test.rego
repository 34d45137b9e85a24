package hms.authz.audit_test

import data.hms.authz.fixtures_test as f
import rego.v1

ledger := {"type": "AuditLog", "id": null, "patient_id": "p1"}

grant_record := {"type": "BreakGlass", "id": "bg-1", "patient_id": "p1"}

cases := {
	"compliance_searches_ledger": f.req(f.compliance, "search", ledger),
	"compliance_reads_ledger": f.req(f.compliance, "read", ledger),
	"compliance_writes_ledger": f.req(f.compliance, "create", ledger),
	"compliance_deletes_ledger": f.req(f.compliance, "delete", ledger),
	"compliance_reviews_break_glass": f.req(f.compliance, "update", grant_record),
	"compliance_lists_break_glass": f.req(f.compliance, "list", grant_record),
	"compliance_reads_observation": f.req(f.compliance, "read", f.res("Observation")),
	"compliance_reads_patient": f.req(f.compliance, "read", f.res("Patient")),
	"attending_searches_ledger": f.req(f.attending1, "search", ledger),
	"admin_searches_ledger": f.req(f.admin, "search", ledger),
	"manager_searches_ledger": f.req(f.manager, "search", ledger),
	"patient_searches_ledger": f.req(f.patient_p1, "search", ledger),
	"attending_reviews_break_glass": f.req(f.attending1, "update", grant_record),
}

test_compliance_reads_and_searches_ledger if {
	f.allowed("audit", "compliance_searches_ledger")
	f.allowed("audit", "compliance_reads_ledger")
	contains(f.reason("audit", "compliance_searches_ledger"), "compliance_officer may search AuditLog")
}

test_ledger_is_never_written_or_deleted_through_the_api if {
	f.denied("audit", "compliance_writes_ledger")
	f.denied("audit", "compliance_deletes_ledger")
}

test_compliance_reviews_break_glass if {
	f.allowed("audit", "compliance_reviews_break_glass")
	f.allowed("audit", "compliance_lists_break_glass")
}

test_compliance_no_clinical_content if {
	f.denied("audit", "compliance_reads_observation")
	f.reason("audit", "compliance_reads_observation") == "compliance_officer may not access clinical content"
	f.denied("audit", "compliance_reads_patient")
}

test_only_compliance_queries_ledger if {
	f.denied("audit", "attending_searches_ledger")
	f.denied("audit", "admin_searches_ledger")
	f.denied("audit", "manager_searches_ledger")
	f.denied("audit", "patient_searches_ledger")
	f.denied("audit", "attending_reviews_break_glass")
}

# METADATA
# title: Operations console resources
# description: |
#   The manager console's routes (api/routes/operations.py) ask for de-identified
#   Aggregate and Forecast reads; the compliance views ask for BreakGlass lists and
#   AuditLog searches/reads with no patient. These cases pin the roles matrix for
#   them: managers get the aggregates and nothing of compliance's, compliance
#   officers get their views and no aggregate, clinical roles and admins neither.
#   (One evaluation site of its own; see fixtures_test for why sites are few.)
package hms.authz.ops_test

import data.hms.authz.fixtures_test as f
import rego.v1

agg(name) := {"type": "Aggregate", "id": name, "patient_id": null, "deidentified": true}

fc := {"type": "Forecast", "id": "ops-forecast", "patient_id": null, "deidentified": true}

bg_list := {"type": "BreakGlass", "id": null, "patient_id": null}

ledger := {"type": "AuditLog", "id": "ledger", "patient_id": null}

cases := {
	"manager_hospital_now": f.req(f.manager, "read", agg("hospital-now")),
	"manager_journeys": f.req(f.manager, "read", agg("journeys")),
	"manager_forecast": f.req(f.manager, "read", fc),
	"manager_aggregate_of_a_patient": f.req(f.manager, "read", object.union(agg("journeys"), {"patient_id": "p1"})),
	"manager_break_glass_reviews": f.req(f.manager, "list", bg_list),
	"manager_anomalies": f.req(f.manager, "search", ledger),
	"manager_ledger_status": f.req(f.manager, "read", ledger),
	"compliance_break_glass_reviews": f.req(f.compliance, "list", bg_list),
	"compliance_anomalies": f.req(f.compliance, "search", ledger),
	"compliance_ledger_status": f.req(f.compliance, "read", ledger),
	"compliance_hospital_now": f.req(f.compliance, "read", agg("hospital-now")),
	"compliance_forecast": f.req(f.compliance, "read", fc),
	"nurse_hospital_now": f.req(f.nurse_medical, "read", agg("hospital-now")),
	"attending_journeys": f.req(f.attending1, "read", agg("journeys")),
	"attending_anomalies": f.req(f.attending1, "search", ledger),
	"admin_hospital_now": f.req(f.admin, "read", agg("hospital-now")),
	"patient_hospital_now": f.req(f.patient_p1, "read", agg("hospital-now")),
}

results := {name: d |
	some name, c in cases
	d := data.hms.authz.decision with input.subject as c.s
		with input.action as c.a
		with input.resource as c.r
		with input.context as c.c
}

allowed(name) if results[name].allow == true

denied(name) if results[name].allow == false

test_manager_reads_ops_aggregates if {
	allowed("manager_hospital_now")
	allowed("manager_journeys")
	allowed("manager_forecast")
	contains(results.manager_journeys.reason, "de-identified Aggregate")
}

test_manager_never_a_patient_nor_compliance_views if {
	denied("manager_aggregate_of_a_patient")
	denied("manager_break_glass_reviews")
	denied("manager_anomalies")
	denied("manager_ledger_status")
}

test_compliance_officer_reads_compliance_views_only if {
	allowed("compliance_break_glass_reviews")
	allowed("compliance_anomalies")
	allowed("compliance_ledger_status")
	denied("compliance_hospital_now")
	denied("compliance_forecast")
}

test_other_roles_see_no_ops_view if {
	denied("nurse_hospital_now")
	denied("attending_journeys")
	denied("attending_anomalies")
	denied("admin_hospital_now")
	denied("patient_hospital_now")
}

package hms.authz.support_test

import data.hms.authz.fixtures_test as f
import rego.v1

calc := {"type": "DecisionSupport", "id": "triage-score", "patient_id": null}

cases := {
	"triage_nurse_scores": f.req(f.triage_nurse, "create", calc),
	"nurse_scores": f.req(f.nurse_medical, "create", calc),
	"attending_scores": f.req(f.attending1, "create", calc),
	"billing_scores": f.req(f.billing, "create", calc),
	"manager_scores": f.req(f.manager, "create", calc),
	"registration_scores": f.req(f.registration, "create", calc),
	"nurse_scores_named_patient": f.req(f.nurse_medical, "create", object.union(calc, {"patient_id": "p1"})),
	"nurse_reads_calc": f.req(f.nurse_medical, "read", calc),
}

test_clinical_triage_roles_may_score if {
	f.allowed("support", "triage_nurse_scores")
	f.allowed("support", "nurse_scores")
	f.allowed("support", "attending_scores")
	contains(f.reason("support", "triage_nurse_scores"), "decision-support calculation")
}

test_non_clinical_roles_may_not_score if {
	f.denied("support", "billing_scores")
	f.denied("support", "manager_scores")
	f.denied("support", "registration_scores")
}

test_calculation_naming_a_patient_is_refused if {
	f.denied("support", "nurse_scores_named_patient")
	contains(f.reason("support", "nurse_scores_named_patient"), "must not name a patient")
}

test_only_create_is_a_calculation if {
	f.denied("support", "nurse_reads_calc")
}

# METADATA
# title: WebSocket stream subscriptions and pushes
# description: |
#   The streams use the generic record rules, no rule of their own. A patient stream is
#   a read of the patient's Journey; a ward stream is a list of the ward's Encounters on
#   a resource that names the ward and the care teams covering it; every pushed event is
#   decided again as a read of its own type (Observation, Task, Encounter) for its patient.
#   These cases pin who may subscribe and what a push shows, per the roles matrix.
package hms.authz.streams_test

import data.hms.authz.fixtures_test as f
import rego.v1

# The medical ward: covered by care team A (attending-1), not by team B (attending-2).
ward_sub(w) := {
	"type": "Encounter", "id": concat("", ["ward/", w]), "patient_id": null, "ward": w,
	"care_teams": ["team-a"], "attending": null, "security": [], "inpatient": true, "consent": {},
}

journey := f.res("Journey")

cases := {
	"nurse_on_ward_subscribes_patient": f.req(f.nurse_medical, "read", journey),
	"nurse_other_ward_subscribes_patient": f.req(f.nurse_psych, "read", journey),
	"attending_on_team_subscribes_patient": f.req(f.attending1, "read", journey),
	"attending_other_team_subscribes_patient": f.req(f.attending2, "read", journey),
	"patient_subscribes_own": f.req(f.patient_p1, "read", journey),
	"patient_subscribes_other": f.req(f.patient_p1, "read", f.res_with("Journey", {"patient_id": "p2"})),
	"registration_subscribes_patient": f.req(f.registration, "read", journey),
	"billing_subscribes_patient": f.req(f.billing, "read", journey),
	"pharmacist_subscribes_patient": f.req(f.pharmacist, "read", journey),
	"radiologist_subscribes_patient": f.req(f.radiologist, "read", journey),
	"manager_subscribes_patient": f.req(f.manager, "read", journey),
	"compliance_subscribes_patient": f.req(f.compliance, "read", journey),
	"admin_subscribes_patient": f.req(f.admin, "read", journey),
	"nurse_subscribes_own_ward": f.req(f.nurse_medical, "list", ward_sub("medical")),
	"nurse_subscribes_other_ward": f.req(f.nurse_psych, "list", ward_sub("medical")),
	"triage_nurse_subscribes_ed": f.req(f.triage_nurse, "list", object.union(ward_sub("emergency"), {"ward": "emergency"})),
	"attending_subscribes_team_ward": f.req(f.attending1, "list", ward_sub("medical")),
	"attending_subscribes_uncovered_ward": f.req(f.attending2, "list", ward_sub("medical")),
	"registration_subscribes_ward": f.req(f.registration, "list", ward_sub("medical")),
	"pharmacist_subscribes_ward": f.req(f.pharmacist, "list", ward_sub("medical")),
	"radiologist_subscribes_ward": f.req(f.radiologist, "list", ward_sub("medical")),
	"manager_subscribes_ward": f.req(f.manager, "list", ward_sub("medical")),
	"patient_subscribes_ward": f.req(f.patient_p1, "list", ward_sub("medical")),
	"billing_subscribes_ward": f.req(f.billing, "list", ward_sub("medical")),
	"push_vitals_to_ward_nurse": f.req(f.nurse_medical, "read", f.res("Observation")),
	"push_psy_result_to_ward_nurse": f.req(f.nurse_medical, "read", f.psy("Observation")),
	"push_psy_result_to_attending": f.req(f.attending1, "read", f.psy("Observation")),
	"push_vitals_to_other_team": f.req(f.attending2, "read", f.res("Observation")),
	"push_nurse_task_to_billing": f.req(f.billing, "read", f.res_with("Task", {"task_role": "nurse"})),
	"push_billing_task_to_billing": f.req(f.billing, "read", f.res_with("Task", {"task_role": "billing_clerk"})),
	"push_vitals_to_billing": f.req(f.billing, "read", f.res("Observation")),
	"push_stage_to_billing": f.req(f.billing, "read", f.res("Encounter")),
	"push_stage_to_ward_nurse": f.req(f.nurse_medical, "read", f.res("Encounter")),
}

# One "with" site for the whole file (the embedded evaluator compiles each one at length).
results := {name: d |
	some name, c in cases
	d := data.hms.authz.decision with input.subject as c.s
		with input.action as c.a
		with input.resource as c.r
		with input.context as c.c
}

allowed(name) if results[name].allow == true

denied(name) if results[name].allow == false

test_patient_stream_for_ward_nurses_care_team_and_patient if {
	allowed("nurse_on_ward_subscribes_patient")
	allowed("attending_on_team_subscribes_patient")
	allowed("patient_subscribes_own")
}

test_patient_stream_refused_to_unrelated_clinicians if {
	denied("nurse_other_ward_subscribes_patient")
	denied("attending_other_team_subscribes_patient")
	denied("patient_subscribes_other")
}

test_patient_stream_refused_to_non_treating_roles if {
	denied("registration_subscribes_patient")
	denied("billing_subscribes_patient")
	denied("pharmacist_subscribes_patient")
	denied("radiologist_subscribes_patient")
	denied("manager_subscribes_patient")
	denied("compliance_subscribes_patient")
	denied("admin_subscribes_patient")
}

test_ward_stream_for_its_nurses_and_covering_attendings if {
	allowed("nurse_subscribes_own_ward")
	allowed("triage_nurse_subscribes_ed")
	allowed("attending_subscribes_team_ward")
}

test_ward_stream_refused_elsewhere if {
	denied("nurse_subscribes_other_ward")
	denied("attending_subscribes_uncovered_ward")
	denied("registration_subscribes_ward")
	denied("pharmacist_subscribes_ward")
	denied("radiologist_subscribes_ward")
	denied("manager_subscribes_ward")
	denied("patient_subscribes_ward")
}

test_billing_ward_stream_shows_encounters_and_billing_tasks_only if {
	allowed("billing_subscribes_ward")
	allowed("push_stage_to_billing")
	allowed("push_billing_task_to_billing")
	denied("push_nurse_task_to_billing")
	denied("push_vitals_to_billing")
}

test_pushes_follow_labels_and_care_teams if {
	allowed("push_vitals_to_ward_nurse")
	allowed("push_stage_to_ward_nurse")
	denied("push_psy_result_to_ward_nurse")
	allowed("push_psy_result_to_attending")
	denied("push_vitals_to_other_team")
}

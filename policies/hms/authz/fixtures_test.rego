# METADATA
# title: Shared fixtures for the policy tests
# description: |
#   Demo-hospital subjects, a patient record, and the one place that evaluates
#   every area's request cases through the entry point. Requests are passed field
#   by field (with input.subject as ...) because the embedded evaluator crashes on
#   a whole-input override.
package hms.authz.fixtures_test

import rego.v1

now := "2026-11-25T13:00:00Z"

ctx := {"purpose": "TREAT", "now": now, "break_glass": null}

bg_ctx(pid) := {"now": now, "break_glass": {"patient_id": pid, "expires_at": "2026-11-25T14:00:00Z"}}

bg_ctx_expired(pid) := {"now": now, "break_glass": {"patient_id": pid, "expires_at": "2026-11-25T12:59:59Z"}}

registration := {"id": "registration-1", "role": "registration_clerk", "wards": [], "care_teams": [], "patient_id": null}

triage_nurse := {"id": "triage-nurse-1", "role": "triage_nurse", "wards": ["emergency"], "care_teams": ["team-er"], "patient_id": null}

nurse_medical := {"id": "nurse-medical-1", "role": "nurse", "wards": ["medical"], "care_teams": ["team-c"], "patient_id": null}

nurse_psych := {"id": "nurse-psychiatry-1", "role": "nurse", "wards": ["psychiatry"], "care_teams": ["team-psy"], "patient_id": null}

attending1 := {"id": "attending-1", "role": "attending_physician", "wards": ["medical"], "care_teams": ["team-a"], "patient_id": null}

attending2 := {"id": "attending-2", "role": "attending_physician", "wards": ["medical"], "care_teams": ["team-b"], "patient_id": null}

radiologist := {"id": "radiologist-1", "role": "radiologist", "wards": [], "care_teams": [], "patient_id": null}

pharmacist := {"id": "pharmacist-1", "role": "pharmacist", "wards": [], "care_teams": [], "patient_id": null}

billing := {"id": "billing-1", "role": "billing_clerk", "wards": [], "care_teams": [], "patient_id": null}

manager := {"id": "manager-1", "role": "manager", "wards": [], "care_teams": [], "patient_id": null}

compliance := {"id": "compliance-1", "role": "compliance_officer", "wards": [], "care_teams": [], "patient_id": null}

admin := {"id": "admin-1", "role": "admin", "wards": [], "care_teams": [], "patient_id": null}

patient_p1 := {"id": "patient-p1", "role": "patient", "wards": [], "care_teams": [], "patient_id": "p1"}

# Patient p1: an inpatient on the medical ward, care team team-a, attending attending-1.
res(t) := {
	"type": t, "id": concat("", [t, "-1"]), "patient_id": "p1", "ward": "medical",
	"care_teams": ["team-a"], "attending": "attending-1", "security": [],
	"task_role": null, "assigned_to": null, "inpatient": true, "deidentified": false,
}

res_with(t, extra) := object.union(res(t), extra)

# The same resource carrying a psychiatric sensitivity label.
psy(t) := res_with(t, {"security": ["PSY"]})

# A request case: subject, action, resource, context.
req(s, a, r) := {"s": s, "a": a, "r": r, "c": ctx}

req_ctx(s, a, r, c) := {"s": s, "a": a, "r": r, "c": c}

# METADATA
# title: results
# description: |
#   Every area's cases evaluated at one "with" site. The embedded evaluator spends
#   seconds compiling each "with" site, so the suite keeps exactly one.
results := {area: {name: d |
	some name, c in cases
	d := data.hms.authz.decision with input.subject as c.s
		with input.action as c.a
		with input.resource as c.r
		with input.context as c.c
} |
	some area, cases in all_cases
}

all_cases := {
	"authz": data.hms.authz.authz_test.cases,
	"clinical": data.hms.authz.clinical_test.cases,
	"notes": data.hms.authz.notes_test.cases,
	"tasks": data.hms.authz.tasks_test.cases,
	"audit": data.hms.authz.audit_test.cases,
	"admin": data.hms.authz.admin_test.cases,
	"breakglass": data.hms.authz.breakglass_test.cases,
	"common": data.hms.authz.common_test.cases,
	"support": data.hms.authz.support_test.cases,
	"triage": data.hms.authz.triage_test.cases,
	"erasure": data.hms.authz.erasure_test.cases,
	"consent": data.hms.authz.consent_test.cases,
}

allowed(area, name) if results[area][name].allow == true

denied(area, name) if results[area][name].allow == false

reason(area, name) := results[area][name].reason

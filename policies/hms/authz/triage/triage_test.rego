# METADATA
# title: Triage and pre-triage intake
# description: |
#   Who may record triage (TriageScore, Observation) and complete triage tasks in the
#   ED, answer a rapid response, report a patient seen, and run the intake
#   (QuestionnaireResponse). The rules are the generic record and task rules; these
#   cases pin the matrix for the triage journey.
package hms.authz.triage_test

import data.hms.authz.fixtures_test as f
import rego.v1

# An ED arrival before admission: no stay, so no care team of its own; the ED's team is passed.
ed(t) := f.res_with(t, {"ward": "emergency", "care_teams": ["team-a"], "attending": "attending-1", "inpatient": false})

triage_task := f.res_with("Task", {"ward": "emergency", "task_role": "triage_nurse"})

rapid_task := f.res_with("Task", {"ward": "emergency", "task_role": "attending_physician"})

cases := {
	"triage_nurse_records_triage_score": f.req(f.triage_nurse, "create", ed("TriageScore")),
	"triage_nurse_records_vitals": f.req(f.triage_nurse, "create", ed("Observation")),
	"triage_nurse_reads_triage": f.req(f.triage_nurse, "read", ed("TriageScore")),
	"ward_nurse_records_ed_triage": f.req(f.nurse_medical, "create", ed("TriageScore")),
	"triage_nurse_completes_triage_task": f.req(f.triage_nurse, "complete", triage_task),
	"ward_nurse_completes_triage_task": f.req(object.union(f.nurse_medical, {"role": "nurse"}), "complete", triage_task),
	"triage_nurse_acks_rapid_response": f.req(f.triage_nurse, "complete", rapid_task),
	"attending_acks_rapid_response": f.req(f.attending1, "complete", rapid_task),
	"other_attending_acks_escalation": f.req(f.attending2, "complete", rapid_task),
	"attending_reports_seen": f.req(f.attending1, "update", ed("TriageScore")),
	"other_team_attending_reports_seen": f.req(f.attending2, "update", ed("TriageScore")),
	"triage_nurse_updates_triage_score": f.req(f.triage_nurse, "update", ed("TriageScore")),
	"registration_registers_arrival": f.req(f.registration, "create", ed("Patient")),
	"registration_records_triage": f.req(f.registration, "create", ed("TriageScore")),
	"registration_starts_intake": f.req(f.registration, "create", ed("QuestionnaireResponse")),
	"registration_relays_answer": f.req(f.registration, "update", ed("QuestionnaireResponse")),
	"registration_reads_intake": f.req(f.registration, "read", ed("QuestionnaireResponse")),
	"triage_nurse_reads_intake": f.req(f.triage_nurse, "read", ed("QuestionnaireResponse")),
	"psych_nurse_reads_ed_intake": f.req(f.nurse_psych, "read", ed("QuestionnaireResponse")),
	"patient_starts_own_intake": f.req(f.patient_p1, "create", ed("QuestionnaireResponse")),
	"patient_answers_own_intake": f.req(f.patient_p1, "update", ed("QuestionnaireResponse")),
	"patient_starts_intake_for_other": f.req(f.patient_p1, "create", f.res_with("QuestionnaireResponse", {"patient_id": "p2"})),
	"attending_reads_intake": f.req(f.attending1, "read", ed("QuestionnaireResponse")),
	"billing_reads_intake": f.req(f.billing, "read", ed("QuestionnaireResponse")),
	"compliance_reads_intake": f.req(f.compliance, "read", ed("QuestionnaireResponse")),
}

test_triage_nurse_records_triage_on_ed if {
	f.allowed("triage", "triage_nurse_records_triage_score")
	f.allowed("triage", "triage_nurse_records_vitals")
	f.allowed("triage", "triage_nurse_reads_triage")
	f.denied("triage", "ward_nurse_records_ed_triage")
}

test_triage_tasks_by_triage_nurse_on_ed if {
	f.allowed("triage", "triage_nurse_completes_triage_task")
	f.denied("triage", "ward_nurse_completes_triage_task")
}

test_rapid_response_acknowledged_by_attendings if {
	f.allowed("triage", "attending_acks_rapid_response")
	f.allowed("triage", "other_attending_acks_escalation")
	f.denied("triage", "triage_nurse_acks_rapid_response")
}

test_physician_seen_by_the_ed_care_team if {
	f.allowed("triage", "attending_reports_seen")
	f.denied("triage", "other_team_attending_reports_seen")
	f.denied("triage", "triage_nurse_updates_triage_score")
}

test_registration_registers_arrivals_and_relays_intake if {
	f.allowed("triage", "registration_registers_arrival")
	f.denied("triage", "registration_records_triage")
	f.allowed("triage", "registration_starts_intake")
	f.allowed("triage", "registration_relays_answer")
	f.denied("triage", "registration_reads_intake")
}

test_intake_read_by_ed_clinicians if {
	f.allowed("triage", "triage_nurse_reads_intake")
	f.allowed("triage", "attending_reads_intake")
	f.denied("triage", "psych_nurse_reads_ed_intake")
	f.denied("triage", "billing_reads_intake")
	f.denied("triage", "compliance_reads_intake")
}

test_patient_runs_own_intake_only if {
	f.allowed("triage", "patient_starts_own_intake")
	f.allowed("triage", "patient_answers_own_intake")
	f.denied("triage", "patient_starts_intake_for_other")
}

package hms.authz.tasks_test

import data.hms.authz.fixtures_test as f
import rego.v1

nurse_task := f.res_with("Task", {"task_role": "nurse"})

work_list := {"type": "Task", "id": null, "patient_id": null, "ward": "medical", "task_role": null}

cases := {
	"nurse_lists_tasks": f.req(f.nurse_medical, "list", work_list),
	"attending_lists_tasks": f.req(f.attending1, "list", work_list),
	"pharmacist_lists_tasks": f.req(f.pharmacist, "list", work_list),
	"radiologist_lists_tasks": f.req(f.radiologist, "list", work_list),
	"triage_lists_tasks": f.req(f.triage_nurse, "list", work_list),
	"billing_lists_tasks": f.req(f.billing, "list", work_list),
	"registration_lists_tasks": f.req(f.registration, "list", work_list),
	"manager_lists_tasks": f.req(f.manager, "list", work_list),
	"nurse_completes_own_task_on_ward": f.req(f.nurse_medical, "complete", nurse_task),
	"nurse_completes_task_other_ward": f.req(f.nurse_psych, "complete", nurse_task),
	"nurse_completes_pharmacist_task": f.req(f.nurse_medical, "complete", f.res_with("Task", {"task_role": "pharmacist"})),
	"triage_completes_nurse_task": f.req(object.union(f.triage_nurse, {"wards": ["medical"]}), "complete", nurse_task),
	"pharmacist_completes_own_task": f.req(f.pharmacist, "complete", f.res_with("Task", {"task_role": "pharmacist"})),
	"radiologist_completes_assigned_task": f.req(f.radiologist, "complete", f.res_with("Task", {"task_role": "radiologist", "assigned_to": "radiologist-1"})),
	"radiologist_completes_task_of_colleague": f.req(f.radiologist, "complete", f.res_with("Task", {"task_role": "radiologist", "assigned_to": "radiologist-2"})),
	"attending_completes_attending_task": f.req(f.attending2, "complete", f.res_with("Task", {"task_role": "attending_physician"})),
	"billing_completes_billing_task": f.req(f.billing, "complete", f.res_with("Task", {"task_role": "billing_clerk"})),
	"billing_lists_billing_tasks": f.req(f.billing, "list", object.union(work_list, {"task_role": "billing_clerk"})),
	"billing_completes_nurse_task": f.req(f.billing, "complete", nurse_task),
	"nurse_completes_billing_task": f.req(f.nurse_medical, "complete", f.res_with("Task", {"task_role": "billing_clerk"})),
	"compliance_lists_review_tasks": f.req(f.compliance, "list", object.union(work_list, {"task_role": "compliance_officer"})),
	"compliance_lists_nurse_tasks": f.req(f.compliance, "list", work_list),
	"compliance_completes_review": f.req(f.compliance, "complete", f.res_with("Task", {"task_role": "compliance_officer"})),
	"patient_files_correction": f.req(f.patient_p1, "create", f.res_with("Task", {"task_role": "registration_clerk"})),
	"patient_files_for_other": f.req(f.patient_p1, "create", f.res_with("Task", {"patient_id": "p2"})),
	"nurse_creates_task": f.req(f.nurse_medical, "create", nurse_task),
	"attending_reads_journey_on_team": f.req(f.attending1, "read", f.res("Journey")),
	"attending_reads_journey_other_team": f.req(f.attending2, "read", f.res("Journey")),
	"nurse_reads_journey_on_ward": f.req(f.nurse_medical, "read", f.res("Journey")),
	"patient_reads_own_journey": f.req(f.patient_p1, "read", f.res("Journey")),
	"billing_reads_journey": f.req(f.billing, "read", f.res("Journey")),
	"registration_reads_journey": f.req(f.registration, "read", f.res("Journey")),
}

test_clinical_roles_list_tasks if {
	f.allowed("tasks", "nurse_lists_tasks")
	f.allowed("tasks", "attending_lists_tasks")
	f.allowed("tasks", "pharmacist_lists_tasks")
	f.allowed("tasks", "radiologist_lists_tasks")
	f.allowed("tasks", "triage_lists_tasks")
}

test_non_clinical_roles_do_not_list_tasks if {
	f.denied("tasks", "billing_lists_tasks")
	f.denied("tasks", "registration_lists_tasks")
	f.denied("tasks", "manager_lists_tasks")
}

test_nurse_completes_own_role_task_on_ward if {
	f.allowed("tasks", "nurse_completes_own_task_on_ward")
	contains(f.reason("tasks", "nurse_completes_own_task_on_ward"), "may complete a nurse task")
}

test_nurse_task_needs_ward if {
	f.denied("tasks", "nurse_completes_task_other_ward")
	contains(f.reason("tasks", "nurse_completes_task_other_ward"), "not on the subject's ward")
}

test_task_completed_only_by_its_role if {
	f.denied("tasks", "nurse_completes_pharmacist_task")
	contains(f.reason("tasks", "nurse_completes_pharmacist_task"), "belongs to another role")
	f.denied("tasks", "triage_completes_nurse_task")
	f.allowed("tasks", "pharmacist_completes_own_task")
	f.allowed("tasks", "attending_completes_attending_task")
}

test_assigned_task_only_by_assignee if {
	f.allowed("tasks", "radiologist_completes_assigned_task")
	f.denied("tasks", "radiologist_completes_task_of_colleague")
	contains(f.reason("tasks", "radiologist_completes_task_of_colleague"), "assigned to another user")
}

test_billing_clerk_works_only_billing_tasks if {
	f.allowed("tasks", "billing_lists_billing_tasks")
	f.allowed("tasks", "billing_completes_billing_task")
	contains(f.reason("tasks", "billing_completes_billing_task"), "may complete a billing_clerk task")
	f.denied("tasks", "billing_completes_nurse_task")
	f.denied("tasks", "nurse_completes_billing_task")
}

test_compliance_review_tasks_only if {
	f.allowed("tasks", "compliance_lists_review_tasks")
	f.denied("tasks", "compliance_lists_nurse_tasks")
	f.allowed("tasks", "compliance_completes_review")
}

test_patient_files_requests_on_own_record_only if {
	f.allowed("tasks", "patient_files_correction")
	f.denied("tasks", "patient_files_for_other")
	f.denied("tasks", "nurse_creates_task")
}

test_journey_follows_care_relationship if {
	f.allowed("tasks", "attending_reads_journey_on_team")
	f.denied("tasks", "attending_reads_journey_other_team")
	f.allowed("tasks", "nurse_reads_journey_on_ward")
	f.allowed("tasks", "patient_reads_own_journey")
	f.denied("tasks", "billing_reads_journey")
	f.denied("tasks", "registration_reads_journey")
}

# METADATA
# title: Tasks and journeys
# description: |
#   Human work in a journey is a Task. Clinical roles see the work list; a task is
#   completed only by its own role (nurses only on their ward, and never a task
#   assigned to someone else). Patients file correction and withdrawal requests as
#   Tasks on their own record. Billing clerks see and complete only billing tasks
#   (payment or denial of a claim); registration clerks only registration tasks
#   (a patient's correction request). Journeys follow the generic record rule.
package hms.authz.tasks

import data.hms.authz.common
import rego.v1

# METADATA
# title: task_request
# description: The request is about a Task and the role's row allows the action.
task_request if {
	common.rtype == "Task"
	common.permitted
}

# METADATA
# title: not_assigned_elsewhere
# description: A task with no assignee is open to its role; one with an assignee only to that user.
not_assigned_elsewhere if not has_assignee

not_assigned_elsewhere if common.assigned

# METADATA
# title: has_assignee
# description: The task names an assignee (null, "" and [] name nobody).
has_assignee if {
	a := common.resource.assigned_to
	is_string(a)
	a != ""
}

has_assignee if {
	a := common.resource.assigned_to
	is_array(a)
	count(a) > 0
}

# METADATA
# title: grants
# description: Work-list access, completion by the task's role, and patients' own requests.
grants contains reason if {
	task_request
	common.action in {"list", "read"}
	common.clinical_role
	reason := concat("", [common.role, " may ", common.action, " tasks", common.purpose_note])
}

grants contains reason if {
	task_request
	common.action in {"list", "read"}
	common.role == "compliance_officer"
	common.resource.task_role == "compliance_officer"
	reason := concat("", ["compliance_officer may ", common.action, " review tasks", common.purpose_note])
}

grants contains reason if {
	task_request
	common.action in {"list", "read"}
	common.role == "billing_clerk"
	common.resource.task_role == "billing_clerk"
	reason := concat("", ["billing_clerk may ", common.action, " billing tasks", common.purpose_note])
}

grants contains reason if {
	task_request
	common.action in {"list", "read"}
	common.role == "registration_clerk"
	common.resource.task_role == "registration_clerk"
	reason := concat("", ["registration_clerk may ", common.action, " registration tasks (corrections)", common.purpose_note])
}

grants contains reason if {
	task_request
	common.action == "complete"
	common.resource.task_role == common.role
	not common.nursing_role
	not_assigned_elsewhere
	reason := concat("", [common.role, " may complete a ", common.role, " task", common.purpose_note])
}

grants contains reason if {
	task_request
	common.action == "complete"
	common.resource.task_role == common.role
	common.nursing_role
	common.on_ward
	not_assigned_elsewhere
	reason := concat("", [common.role, " on the patient's ward may complete a ", common.role, " task", common.purpose_note])
}

grants contains reason if {
	task_request
	common.action == "create"
	common.role == "patient"
	common.own_record
	reason := concat("", ["patient may file a request (correction, withdrawal) on their own record", common.purpose_note])
}

# METADATA
# title: hints
# description: Explains why a completion was refused.
hints contains "the task belongs to another role" if {
	task_request
	common.action == "complete"
	common.resource.task_role != common.role
}

hints contains "the task's patient is not on the subject's ward" if {
	task_request
	common.action == "complete"
	common.nursing_role
	not common.on_ward
}

hints contains "the task is assigned to another user" if {
	task_request
	common.action == "complete"
	not not_assigned_elsewhere
}

# METADATA
# title: Patients and clinical records
# description: |
#   The relationship rule for every patient-data type except Task: the role's row of
#   the matrix must allow the action, the subject must be related to the patient the
#   way that role is (ward, care team, assignment, inpatient, self, or, for
#   registration and billing, by their function), and labels must permit it.
package hms.authz.clinical

import data.hms.authz.common
import data.hms.authz.notes
import rego.v1

# METADATA
# title: relation
# description: How the subject is related to the patient, as words for the reason; undefined when unrelated.
relation := data.hms.authz.relations[common.role] if {
	common.nursing_role
	common.on_ward
}

relation := data.hms.authz.relations[common.role] if {
	common.role == "attending_physician"
	common.on_care_team
}

relation := data.hms.authz.relations[common.role] if {
	common.role == "radiologist"
	common.assigned
}

relation := data.hms.authz.relations[common.role] if {
	common.role == "pharmacist"
	common.inpatient
}

relation := data.hms.authz.relations[common.role] if {
	common.role == "patient"
	common.own_record
}

relation := "" if common.role in data.hms.authz.roles.unrelated_access

# METADATA
# title: record_access
# description: The request touches patient data through the generic record rule (Task has its own).
record_access if {
	common.patient_data
	common.rtype != "Task"
	common.permitted
}

# METADATA
# title: grants
# description: Ordinary (non-emergency) access to a patient's records.
grants contains reason if {
	record_access
	rel := relation
	notes.sensitivity_ok
	reason := concat("", [common.role, rel, " may ", common.action, " ", common.rtype, common.purpose_note])
}

# METADATA
# title: denials
# description: A patient sees only their own record.
denials contains "patient may only access their own records" if {
	common.role == "patient"
	p := common.resource.patient_id
	is_string(p)
	not common.own_record
}

# METADATA
# title: hints
# description: Explains a refusal caused by a missing relationship to the patient.
hints contains reason if {
	record_access
	common.role != "patient"
	not relation
	reason := concat("", [
		"the subject is not", data.hms.authz.relations[common.role],
		" and holds no active break-glass grant for this patient",
	])
}

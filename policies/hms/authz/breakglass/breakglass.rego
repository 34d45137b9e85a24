# METADATA
# title: Break-glass
# description: |
#   A clinical role states a reason and gets time-limited access to one patient.
#   An active grant stands in for the missing relationship (ward, care team,
#   assignment, inpatient status) but never widens the role's row of the matrix,
#   and never applies to billing, management, administration or compliance.
#   Every decision it allows says "break-glass" so the ledger flags it.
package hms.authz.breakglass

import data.hms.authz.common
import data.hms.authz.notes
import rego.v1

# METADATA
# title: grant
# description: The break-glass grant presented with the request, if any.
grant := g if {
	g := common.context.break_glass
	is_object(g)
}

# METADATA
# title: active
# description: An unexpired grant, held by a clinical role, for exactly this patient.
active if {
	common.clinical_role
	pid := grant.patient_id
	is_string(pid)
	pid != ""
	pid == common.resource.patient_id
	common.ns(grant.expires_at) > common.ns(common.context.now)
}

# METADATA
# title: emergency_purpose
# description: Emergency treatment (ETREAT) unless the caller stated a purpose.
emergency_purpose := common.context.purpose if common.has_purpose

emergency_purpose := "ETREAT" if not common.has_purpose

# METADATA
# title: emergency_grants
# description: Access that only the break-glass grant allows; chosen only when no ordinary grant applies.
emergency_grants contains reason if {
	active
	common.patient_data
	common.rtype != "Task"
	common.permitted
	notes.emergency_sensitivity_ok
	reason := concat("", [
		"break-glass: ", common.role, " may ", common.action, " ", common.rtype,
		" under an emergency access grant (flagged for compliance review) [purpose ", emergency_purpose, "]",
	])
}

# METADATA
# title: grants
# description: Clinical roles may request a break-glass grant for one named patient.
grants contains reason if {
	common.rtype == "BreakGlass"
	common.action == "create"
	common.clinical_role
	common.permitted
	pid := common.resource.patient_id
	is_string(pid)
	pid != ""
	reason := concat("", [common.role, " may request break-glass access to one patient", common.purpose_note])
}

# METADATA
# title: grants
# description: The holder of a grant may end it early (revocation); compliance officers may too (audit area).
grants contains reason if {
	common.rtype == "BreakGlass"
	common.action == "update"
	common.clinical_role
	holder := common.resource.holder
	is_string(holder)
	holder != ""
	holder == common.subject.id
	reason := concat("", [common.role, " may end their own break-glass grant", common.purpose_note])
}

# METADATA
# title: denials
# description: Break-glass is a clinical tool only.
denials contains "break-glass is only for clinical roles" if {
	common.rtype == "BreakGlass"
	common.action == "create"
	not common.clinical_role
}

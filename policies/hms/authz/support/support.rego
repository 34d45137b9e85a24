# METADATA
# title: Decision-support calculations
# description: |
#   Scoring a set of vitals (NEWS2, an ESI suggestion) that names no patient is a
#   calculation, not a record access: the clinical roles that triage may run it.
#   A calculation that names a patient is refused here and must go through the
#   patient's own record rules (TriageScore, Observation).
package hms.authz.support

import data.hms.authz.common
import rego.v1

# METADATA
# title: names_patient
# description: The calculation carries a patient id.
names_patient if {
	p := common.resource.patient_id
	is_string(p)
	p != ""
}

# METADATA
# title: grants
# description: Clinical roles with DecisionSupport in their row may run patient-less calculations.
grants contains reason if {
	common.rtype == "DecisionSupport"
	common.permitted
	not names_patient
	reason := concat("", [common.role, " may ", common.action, " a decision-support calculation", common.purpose_note])
}

# METADATA
# title: denials
# description: A decision-support call naming a patient is not a calculation.
denials contains "a decision-support calculation must not name a patient; use the patient's TriageScore" if {
	common.rtype == "DecisionSupport"
	names_patient
}

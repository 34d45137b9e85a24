# METADATA
# title: Aggregates and administration
# description: |
#   Managers see de-identified aggregates (occupancy, forecasts, staffing), never a
#   single patient's record; administrators manage configuration and users, never
#   patient data.
package hms.authz.admin

import data.hms.authz.common
import rego.v1

# METADATA
# title: identifies_patient
# description: The resource names a patient (a non-empty patient_id).
identifies_patient if {
	p := common.resource.patient_id
	is_string(p)
	p != ""
}

# METADATA
# title: grants
# description: Manager reads of de-identified data; admin management of configuration and users.
grants contains reason if {
	common.role == "manager"
	common.permitted
	not identifies_patient
	not common.resource.deidentified == false
	reason := concat("", ["manager may ", common.action, " de-identified ", common.rtype, common.purpose_note])
}

grants contains reason if {
	common.role == "manager"
	common.patient_data
	common.rtype != "CodecDecode"
	common.action in data.hms.authz.actions.read_only
	common.resource.deidentified == true
	not identifies_patient
	reason := concat("", ["manager may ", common.action, " de-identified ", common.rtype, common.purpose_note])
}

grants contains reason if {
	common.role == "admin"
	common.rtype in {"Configuration", "User"}
	common.permitted
	reason := concat("", ["admin may ", common.action, " ", common.rtype, common.purpose_note])
}

# METADATA
# title: denials
# description: The refusals the matrix names for managers and administrators.
denials contains "manager may not access a single patient's record" if {
	common.role == "manager"
	identifies_patient
}

denials contains "manager may not access a single patient's record" if {
	common.role == "manager"
	common.patient_data
	not common.resource.deidentified == true
}

denials contains "admin may not access patient data" if {
	common.role == "admin"
	common.patient_data
}

# METADATA
# title: Clinical notes and sensitivity labels
# description: |
#   Who may see resources labelled PSY/HIV/ETH/SDV/SEX, and the hard refusals
#   (clinical notes for billing and pharmacy; any labelled resource for billing and
#   registration) that no grant, break-glass included, can override.
package hms.authz.notes

import data.hms.authz.common
import rego.v1

# METADATA
# title: sensitivity_ok
# description: Unlabelled resources pass; labelled ones only for roles with a treating relationship.
sensitivity_ok if not common.sensitive

sensitivity_ok if {
	common.sensitive
	common.role == "attending_physician"
}

sensitivity_ok if {
	common.sensitive
	common.nursing_role
	common.on_care_team
}

# Assigned imaging work is seen whatever its label; labelled context is not.
sensitivity_ok if {
	common.sensitive
	common.role == "radiologist"
	common.rtype in data.hms.authz.types.imaging
}

sensitivity_ok if {
	common.sensitive
	common.role == "pharmacist"
}

sensitivity_ok if {
	common.sensitive
	common.role == "patient"
}

# METADATA
# title: emergency_sensitivity_ok
# description: |
#   Under break-glass the care-team condition for nurses is waived (it is a
#   relationship, which break-glass stands in for); role limits are not.
emergency_sensitivity_ok if sensitivity_ok

emergency_sensitivity_ok if {
	common.sensitive
	common.nursing_role
}

# METADATA
# title: denials
# description: Refusals that hold whatever else would allow, each with the reason the ledger records.
denials contains reason if {
	common.role in {"billing_clerk", "registration_clerk"}
	common.sensitive
	reason := concat("", [
		common.role, " may not access sensitive-labelled resources (",
		concat(",", sort(common.sensitive_labels)), ")",
	])
}

denials contains reason if {
	common.role in {"billing_clerk", "pharmacist"}
	common.rtype == "Note"
	reason := concat("", [common.role, " may not access clinical notes"])
}

# METADATA
# title: hints
# description: Explains a refusal caused by a label, so the 403 and the ledger say why.
hints contains reason if {
	common.sensitive
	not sensitivity_ok
	reason := concat("", [
		"resource is sensitive-labelled (", concat(",", sort(common.sensitive_labels)),
		") and the subject is not on the patient's care team",
	])
}

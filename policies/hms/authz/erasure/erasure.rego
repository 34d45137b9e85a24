# METADATA
# title: Erasure requests and legal holds
# description: |
#   Under the DPDP Act a patient may ask for their record to be erased; the hospital
#   honours it by crypto-shredding once a compliance officer approves. The patient
#   files their own request (the generic record rule: own record only); compliance
#   officers file one on a patient's behalf and place or release the legal retention
#   holds that block erasure. Neither resource is clinical content, and each names
#   exactly one patient.
package hms.authz.erasure

import data.hms.authz.common
import rego.v1

# METADATA
# title: erasure_type
# description: The resource is an erasure request or a legal hold.
erasure_type if common.rtype in {"ErasureRequest", "LegalHold"}

# METADATA
# title: names_patient
# description: The request names one patient (a non-empty patient_id).
names_patient if {
	p := common.resource.patient_id
	is_string(p)
	p != ""
}

# METADATA
# title: grants
# description: Compliance officers handle erasure requests and legal holds, per their row of the matrix.
grants contains reason if {
	erasure_type
	common.role == "compliance_officer"
	common.permitted
	names_patient
	reason := concat("", ["compliance_officer may ", common.action, " ", common.rtype, common.purpose_note])
}

# METADATA
# title: denials
# description: An erasure request or a hold always concerns one named patient.
denials contains "erasure requests and legal holds name exactly one patient" if {
	erasure_type
	not names_patient
}

# METADATA
# title: Consent to processing (DPDP Act, HIPAA)
# description: |
#   The patient's consent is recorded per purpose of use and presented with every
#   patient resource as resource.consent ({"TREAT": "active" | "withdrawn" | null}).
#   Processing for a purpose the patient withdrew (or refused) is denied from then on,
#   whatever else would allow it. Emergency treatment (ETREAT, the purpose under
#   break-glass) is the exception, and the purpose goes into the reason and the ledger.
#   Consent records stay readable and manageable so staff see why they are refused and
#   the patient (or registration on their behalf) can grant consent again; ending the
#   stay (discharge) is allowed so a patient who withdrew can leave.
package hms.authz.consent

import data.hms.authz.common
import rego.v1

# METADATA
# title: status
# description: The recorded consent state for the request's purpose of use; undefined when none is recorded.
status := s if {
	s := common.resource.consent[common.purpose]
	is_string(s)
}

# METADATA
# title: refused
# description: The patient withdrew (or refused) consent for this purpose.
refused if status in data.hms.authz.consent_rules.refused_states

# METADATA
# title: wind_down
# description: Actions that end processing rather than continue it (ending the stay) stay allowed.
wind_down if common.action in object.get(data.hms.authz.consent_rules.wind_down, common.rtype, [])

# METADATA
# title: processing
# description: The request processes the patient's data (their consent records themselves excepted).
processing if {
	common.patient_data
	not common.rtype in data.hms.authz.consent_rules.always_open_types
	not wind_down
}

# METADATA
# title: denials
# description: Processing for a withdrawn purpose is refused unless it is emergency treatment.
denials contains reason if {
	# Cheapest first: almost no request carries a refused consent.
	refused
	processing
	not common.purpose in data.hms.authz.consent_rules.exempt_purposes
	reason := concat("", [
		"the patient has ", status, " consent to ", common.purpose,
		"; only emergency treatment (ETREAT, under break-glass) may proceed",
	])
}

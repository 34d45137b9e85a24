# METADATA
# title: HMS authorization entry point
# description: |
#   data.hms.authz.decision is the one document every API route asks for:
#   {"allow": bool, "reason": string}. Refusals (malformed input, hard denials)
#   win over grants; ordinary grants win over break-glass so the ledger flags
#   break-glass only when it was actually needed; anything else is denied.
package hms.authz

import data.hms.authz.admin
import data.hms.authz.audit
import data.hms.authz.breakglass
import data.hms.authz.clinical
import data.hms.authz.common
import data.hms.authz.consent
import data.hms.authz.erasure
import data.hms.authz.notes
import data.hms.authz.support
import data.hms.authz.tasks
import rego.v1

# METADATA
# title: malformed
# description: Structural problems with the input document; any of them denies.
malformed contains "subject must be an object" if not is_object(input.subject)

malformed contains "subject.id must be a non-empty string" if not valid_subject_id

malformed contains "unknown subject.role" if not common.role

malformed contains "unknown action" if not common.action

malformed contains "resource must be an object" if not is_object(input.resource)

malformed contains "unknown resource.type" if not common.rtype

malformed contains "context must be an object, null or absent" if {
	c := input.context
	c != null
	not is_object(c)
}

# METADATA
# title: valid_subject_id
# description: The subject names who is asking; the ledger needs an actor.
valid_subject_id if {
	i := input.subject.id
	is_string(i)
	i != ""
}

# METADATA
# title: denials
# description: Every refusal that overrides grants, with its reason.
denials := (((((((malformed_reasons | notes.denials) | clinical.denials) | audit.denials) | admin.denials) | breakglass.denials) | support.denials) | consent.denials) | erasure.denials

# METADATA
# title: malformed_reasons
# description: All structural problems folded into one refusal reason.
malformed_reasons contains concat("", ["malformed input: ", concat("; ", sort(malformed))]) if count(malformed) > 0

# METADATA
# title: grants
# description: Every ordinary rule that allows the request.
grants := (((((clinical.grants | tasks.grants) | audit.grants) | admin.grants) | breakglass.grants) | support.grants) | erasure.grants

# METADATA
# title: no_rule_reason
# description: The default refusal, with hints on what was missing.
no_rule_reason := concat("", [base_reason, hint_text])

# METADATA
# title: base_reason
# description: Names role, action and type when the request is complete enough to.
base_reason := concat("", ["no rule allows ", common.role, " to ", common.action, " ", common.rtype]) if {
	common.role
	common.action
	common.rtype
}

base_reason := "no rule allows this request" if not complete_request

# METADATA
# title: complete_request
# description: Role, action and type are all known values.
complete_request if {
	common.role
	common.action
	common.rtype
}

# METADATA
# title: hint_set
# description: Why the relevant areas did not allow, collected for the default refusal.
hint_set := (clinical.hints | notes.hints) | tasks.hints

# METADATA
# title: hint_text
# description: The hints as a suffix, empty when there are none.
hint_text := concat("", [": ", concat("; ", sort(hint_set))]) if count(hint_set) > 0

hint_text := "" if count(hint_set) == 0

# METADATA
# title: decision
# description: The entry point; default deny.
default decision := {"allow": false, "reason": "no rule allows this request"}

decision := {"allow": false, "reason": concat("; ", sort(denials))} if count(denials) > 0

decision := {"allow": true, "reason": min(grants)} if {
	count(denials) == 0
	count(grants) > 0
}

decision := {"allow": true, "reason": min(breakglass.emergency_grants)} if {
	count(denials) == 0
	count(grants) == 0
	count(breakglass.emergency_grants) > 0
}

decision := {"allow": false, "reason": no_rule_reason} if {
	count(denials) == 0
	count(grants) == 0
	count(breakglass.emergency_grants) == 0
}

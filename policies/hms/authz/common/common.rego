# METADATA
# title: Shared facts about a request
# description: |
#   Accessors and relationship predicates every area uses, so that each area states
#   only its own rule. Everything here reads the input defensively: a missing or
#   mistyped field makes a predicate undefined (never true), which keeps the policy
#   closed on malformed requests.
package hms.authz.common

import rego.v1

# METADATA
# title: subject
# description: The authenticated caller; an empty object when absent so lookups stay undefined.
subject := object.get(input, "subject", {})

# METADATA
# title: resource
# description: The thing being touched; an empty object when absent.
resource := object.get(input, "resource", {})

# METADATA
# title: context
# description: Purpose, clock and break-glass grant of the request; an empty object when absent or null.
context := c if {
	c := input.context
	is_object(c)
}

context := {} if not is_object(input.context)

# METADATA
# title: role
# description: The subject's role when it is one the hospital knows.
role := r if {
	r := subject.role
	r in data.hms.authz.roles.all
}

# METADATA
# title: action
# description: The requested action when it is a known one.
action := a if {
	a := input.action
	a in data.hms.authz.actions.all
}

# METADATA
# title: rtype
# description: The resource type when it is a known one.
rtype := t if {
	t := resource.type
	t in data.hms.authz.types.all
}

# METADATA
# title: clinical_role
# description: Roles that treat patients; only they may invoke break-glass.
clinical_role if role in data.hms.authz.roles.clinical

# METADATA
# title: nursing_role
# description: Nurses are scoped by ward rather than care team.
nursing_role if role in data.hms.authz.roles.nursing

# METADATA
# title: patient_data
# description: The resource belongs to one patient's record (or lists such records).
patient_data if rtype in data.hms.authz.types.patient_data

# METADATA
# title: clinical_content
# description: Resource types that reveal care, not just identity or administration.
clinical_content if rtype in data.hms.authz.types.clinical_content

# METADATA
# title: permitted
# description: The role's row of the acceptance matrix allows this action on this type.
permitted if action in data.hms.authz.permissions[role][rtype]

# METADATA
# title: labels
# description: |
#   The resource's security labels, as codes or FHIR Codings, upper-cased so a
#   differently cased label can never slip past the sensitivity rules.
labels := {upper(code) |
	some l in resource.security
	code := label_code(l)
}

# METADATA
# title: label_code
# description: A label is a bare code or a FHIR Coding with a code.
label_code(l) := l if is_string(l)

label_code(l) := l.code if {
	is_object(l)
	is_string(l.code)
}

# METADATA
# title: sensitive_labels
# description: The HL7 sensitivity labels this hospital restricts (PSY, HIV, ETH, SDV, SEX).
sensitive_labels := labels & {l | some l in data.hms.authz.labels.sensitive}

# METADATA
# title: sensitive
# description: The resource carries at least one restricted sensitivity label.
sensitive if count(sensitive_labels) > 0

# METADATA
# title: on_ward
# description: The resource's patient lies on one of the subject's wards.
on_ward if {
	w := resource.ward
	is_string(w)
	w != ""
	w in subject.wards
}

# METADATA
# title: on_care_team
# description: The subject shares a care team with the patient, or is the patient's attending.
on_care_team if {
	some t in resource.care_teams
	is_string(t)
	t in subject.care_teams
}

on_care_team if {
	a := resource.attending
	is_string(a)
	a != ""
	a == subject.id
}

# METADATA
# title: assigned
# description: |
#   The imaging work (or, for context resources, the patient's open imaging order) is
#   assigned to the subject; assigned_to may be one user id or a list of them.
assigned if {
	a := resource.assigned_to
	is_string(a)
	a != ""
	a == subject.id
}

assigned if {
	some a in resource.assigned_to
	is_string(a)
	a != ""
	a == subject.id
}

# METADATA
# title: inpatient
# description: The patient is currently admitted (pharmacy works on inpatients only).
inpatient if resource.inpatient == true

# METADATA
# title: own_record
# description: The resource belongs to the patient who is the subject.
own_record if {
	p := subject.patient_id
	is_string(p)
	p != ""
	resource.patient_id == p
}

# METADATA
# title: has_purpose
# description: The caller stated a purpose of use.
has_purpose if {
	p := context.purpose
	is_string(p)
	p != ""
}

# METADATA
# title: purpose
# description: The purpose of use carried into the reason, defaulting per role (HL7 v3 PurposeOfUse).
purpose := context.purpose if has_purpose

purpose := data.hms.authz.roles.default_purpose[role] if not has_purpose

# METADATA
# title: purpose_note
# description: Suffix that carries the purpose of use into every reason, and so into the ledger.
purpose_note := concat("", [" [purpose ", purpose, "]"])

# METADATA
# title: ns
# description: |
#   RFC 3339 timestamp to nanoseconds. A trailing "Z" is rewritten to "+00:00" because
#   the embedded evaluator (rego-cpp) only parses numeric offsets; OPA accepts both.
ns(ts) := time.parse_rfc3339_ns(concat("", [trim_suffix(ts, "Z"), "+00:00"])) if endswith(ts, "Z")

ns(ts) := time.parse_rfc3339_ns(ts) if not endswith(ts, "Z")

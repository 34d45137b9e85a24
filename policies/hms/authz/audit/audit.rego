# METADATA
# title: Audit ledger and compliance review
# description: |
#   Compliance officers read and search the ledger and review break-glass grants;
#   they never see clinical content, which the ledger does not hold anyway.
package hms.authz.audit

import data.hms.authz.common
import rego.v1

# METADATA
# title: grants
# description: Ledger queries and break-glass review, for compliance officers only.
grants contains reason if {
	common.rtype in {"AuditLog", "BreakGlass"}
	common.role == "compliance_officer"
	common.permitted
	reason := concat("", ["compliance_officer may ", common.action, " ", common.rtype, common.purpose_note])
}

# METADATA
# title: denials
# description: Compliance work never extends to clinical content.
denials contains "compliance_officer may not access clinical content" if {
	common.role == "compliance_officer"
	common.clinical_content
	common.rtype != "Task"
}

"""AuditEvent: served by ``api.routes.fhir_audit`` over the audit ledger (read and search only);
registered here so the CapabilityStatement lists it."""
from __future__ import annotations

from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

from api.fhir.registry import ResourceType, register

register(ResourceType(
    name="AuditEvent", policy_type="AuditLog", model=FhirAuditEvent, external=True, patient_element=None,
    params={"patient": "reference", "agent": "reference", "action": "token", "date": "date"},
    documentation="The audit ledger, one AuditEvent per entry (id = ledger index); compliance officers only. "
                  "Paging with _count and _offset.",
))

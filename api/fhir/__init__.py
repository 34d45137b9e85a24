"""FHIR R4 REST facade at ``/fhir/r4`` over the hospital's own storage, policy and audit ledger.

Modules: ``errors`` (OperationOutcome), ``negotiation`` (content types, bodies),
``params`` (search parameters), ``registry`` (resource types and what they support),
``guard`` (policy + ledger per interaction), ``interactions`` (read/search/create/update),
``bundles`` (transaction and batch), ``capability`` (the CapabilityStatement), ``routes``.
Resource types live in ``api.fhir.resources``; ``AuditEvent`` stays routed by
``api.routes.fhir_audit`` and is listed here so the CapabilityStatement names it.
"""

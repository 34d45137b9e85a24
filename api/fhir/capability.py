"""The CapabilityStatement, generated from the registry so it states exactly what is served."""
from __future__ import annotations

from datetime import date
from typing import Any

from api.fhir import registry as reg
from api.fhir.params import CONTROL

FHIR_VERSION = "4.0.1"


def capability_statement(base: str) -> dict[str, Any]:
    resources = []
    for rt in reg.all_types():
        entry: dict[str, Any] = {
            "type": rt.name,
            "interaction": [{"code": code} for code in rt.interactions()],
            "versioning": "versioned-update" if rt.update or rt.journey_update else "no-version",
            "readHistory": False, "updateCreate": False,
            "conditionalCreate": False, "conditionalUpdate": False, "conditionalDelete": "not-supported",
            "searchParam": [{"name": name, "type": ptype} for name, ptype in sorted(rt.params.items())],
        }
        if rt.includes:
            entry["searchInclude"] = [f"{rt.name}:{p}" for p in sorted(rt.includes)]
        if rt.documentation:
            entry["documentation"] = rt.documentation
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": date.today().isoformat(), "kind": "instance",
        "software": {"name": "HMS FHIR facade"},
        "implementation": {"description": "Hospital Management System FHIR R4 API", "url": base},
        "fhirVersion": FHIR_VERSION, "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Every interaction is authorized by the hospital's policy and written to its audit "
                             "ledger; resources labelled in meta.security are served only where the policy allows. "
                             f"Paging/sorting/inclusion parameters: {', '.join(sorted(CONTROL))}.",
            "security": {"cors": False, "description": "OAuth2-style bearer tokens (Authorization: Bearer <JWT>)",
                         "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                            "restful-security-service", "code": "OAuth"}]}]},
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}],
            "operation": [{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/"
                                                                "Patient-everything"}],
        }],
    }

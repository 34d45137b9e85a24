"""FHIR resource types: importing this package registers every one of them."""
from api.fhir.resources import (  # noqa: F401
    allergy,
    audit,
    clinical_orders,
    condition,
    consent,
    encounter,
    observation,
    patient,
    records,
)

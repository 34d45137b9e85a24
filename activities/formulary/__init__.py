"""A small curated inpatient formulary: drugs, interactions, allergy cross-sensitivity, initial stock."""
from activities.formulary.loader import Allergy, Drug, Formulary, FormularyError, Hit, load_formulary

__all__ = ["Allergy", "Drug", "Formulary", "FormularyError", "Hit", "load_formulary"]

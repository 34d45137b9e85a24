"""Initial pharmacy stock: one row per formulary drug, inserted only where missing (idempotent)."""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.formulary.loader import Formulary, load_formulary
from activities.storage.models_pharmacy import MedicationStock


def seed_formulary_stock(session: Session, formulary: Formulary | None = None) -> int:
    """Insert the formulary's initial stock for drugs that have no stock row yet; returns rows added."""
    f = formulary or load_formulary()
    added = 0
    for drug in f.drugs.values():
        added += len(session.execute(
            insert(MedicationStock).values(drug_code=drug.code, on_hand=drug.initial_stock,
                                           dispense_unit=drug.dispense_unit)
            .on_conflict_do_nothing().returning(MedicationStock.drug_code)).all())
    return added

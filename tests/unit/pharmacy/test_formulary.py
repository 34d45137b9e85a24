"""The shipped formulary and interaction table: consistent, sourced, and catching the classic pairs."""
from __future__ import annotations

import copy
import json

import pytest

from activities.formulary import Allergy, FormularyError, load_formulary
from activities.formulary.loader import HERE, parse, validate

F = load_formulary()
CODES = {d.name: d.code for d in F.drugs.values()}


def hit_codes(drug: str, active: list[str], allergies: list[Allergy] = ()) -> set[str]:  # type: ignore[assignment]
    return {h.code for h in F.check(CODES[drug], [CODES[a] for a in active], allergies)}


def test_tables_are_consistent_and_every_entry_cites_a_source() -> None:
    assert validate(F) == []
    assert len(F.drugs) >= 40 and len(F.interactions) >= 20
    assert all(d.source.strip() and d.code.isdigit() for d in F.drugs.values())
    assert all(ix.source.strip() for ix in F.interactions)
    raw = json.loads((HERE / "interactions.json").read_text())
    assert all(entry["source"] for entry in raw["interactions"] + raw["cross_sensitivity"])


@pytest.mark.parametrize(("drug", "active", "expected"), [
    ("warfarin", ["aspirin"], "IX-WARF-ASA"),
    ("ibuprofen", ["warfarin"], "IX-WARF-NSAID"),
    ("tramadol", ["sertraline"], "IX-SSRI-TRAM"),
    ("fluoxetine", ["tramadol"], "IX-SSRI-TRAM"),
    ("spironolactone", ["lisinopril"], "IX-ACEI-KSPAR"),
    ("simvastatin", ["clarithromycin"], "IX-CLARI-SIMVA"),
    ("trimethoprim", ["methotrexate"], "IX-MTX-TMP"),
    ("sildenafil", ["isosorbide mononitrate"], "IX-NITRATE-PDE5"),
    ("lorazepam", ["morphine"], "IX-OPIOID-BENZO"),
])
def test_well_known_interactions_are_found_in_either_order(drug: str, active: list[str], expected: str) -> None:
    assert expected in hit_codes(drug, active)
    assert expected in hit_codes(active[0], [drug])


def test_safe_combination_has_no_findings() -> None:
    assert F.check(CODES["paracetamol"], [CODES["amoxicillin"], CODES["omeprazole"]], []) == []


def test_findings_name_the_interacting_drug_and_sort_most_severe_first() -> None:
    hits = F.check(CODES["ibuprofen"], [CODES["lisinopril"], CODES["warfarin"]], [])
    assert [(h.code, h.other, h.severity) for h in hits] == [
        ("IX-WARF-NSAID", CODES["warfarin"], "major"), ("IX-ACEI-NSAID", CODES["lisinopril"], "moderate")]


def test_allergy_by_class_by_code_and_cross_sensitivity() -> None:
    assert [h.kind for h in F.check(CODES["amoxicillin"], [], [Allergy("penicillin", is_class=True)])] == ["allergy"]
    assert [h.kind for h in F.check(CODES["amoxicillin"], [], [Allergy(CODES["amoxicillin"])])] == ["allergy"]
    cross = F.check(CODES["cefalexin"], [], [Allergy(CODES["amoxicillin"])])
    assert [(h.kind, h.code) for h in cross] == [("cross-sensitivity", "XS-PEN-CEPH")]
    assert F.check(CODES["paracetamol"], [], [Allergy("penicillin", is_class=True)]) == []


def test_duplicate_therapy_is_flagged() -> None:
    assert "DUP-" + CODES["warfarin"] in hit_codes("warfarin", ["warfarin"])


def test_validation_refuses_dangling_references() -> None:
    drugs = json.loads((HERE / "formulary.json").read_text())
    ixs = json.loads((HERE / "interactions.json").read_text())
    broken = copy.deepcopy(ixs)
    broken["interactions"][0]["a"] = {"code": "999999999"}
    with pytest.raises(FormularyError, match="unknown drug code 999999999"):
        parse(drugs, broken)
    unsourced = copy.deepcopy(ixs)
    unsourced["interactions"][1]["source"] = " "
    with pytest.raises(FormularyError, match="source"):
        parse(drugs, unsourced)


def test_units_per_dose_rounds_up_to_whole_dispensing_units() -> None:
    assert F.drugs[CODES["amoxicillin"]].units_per_dose(500) == 1
    assert F.drugs[CODES["amoxicillin"]].units_per_dose(1000) == 2
    assert F.drugs[CODES["warfarin"]].units_per_dose(2.5) == 3
    assert F.drugs[CODES["ramipril"]].units_per_dose(0.1) == 1

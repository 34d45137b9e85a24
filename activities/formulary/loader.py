"""The shipped formulary and interaction table, loaded once and checked in memory.

Both tables are data, not code: each entry cites its public source so a
pharmacist can see why the system raised a flag. Checks return codes only
(interaction ids, RxNorm codes, classes) so task details never carry free text.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
SEVERITIES = ("contraindicated", "major", "moderate", "minor")


class FormularyError(ValueError):
    """The shipped tables are inconsistent (a unit test keeps them valid)."""


@dataclass(frozen=True)
class Drug:
    code: str
    name: str
    atc: str
    classes: tuple[str, ...]
    dose_unit: str
    strength: float
    dispense_unit: str
    routes: tuple[str, ...]
    initial_stock: int
    max_single_dose: float
    source: str

    def units_per_dose(self, dose: float) -> int:
        """Whole dispensing units (tablets, vials) one dose needs."""
        return max(1, math.ceil(round(dose / self.strength, 6)))


@dataclass(frozen=True)
class Side:
    code: str | None = None
    drug_class: str | None = None

    def matches(self, drug: Drug) -> bool:
        return drug.code == self.code if self.code else self.drug_class in drug.classes


@dataclass(frozen=True)
class Interaction:
    id: str
    a: Side
    b: Side
    severity: str
    effect: str
    summary: str
    source: str


@dataclass(frozen=True)
class CrossSensitivity:
    id: str
    allergen_class: str
    drug_class: str
    severity: str
    summary: str
    source: str


@dataclass(frozen=True)
class Hit:
    """One safety finding on an order, as codes the verification task shows."""

    kind: str  # "interaction" | "allergy" | "cross-sensitivity" | "duplicate"
    code: str  # interaction id, or the allergen code/class
    severity: str
    other: str  # the RxNorm code of the interacting active drug, or the allergen
    effect: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "code": self.code, "severity": self.severity, "other": self.other,
                "effect": self.effect}


@dataclass(frozen=True)
class Allergy:
    """An allergen as the checker sees it: an RxNorm ingredient code or a formulary class."""

    code: str
    is_class: bool = False


class Formulary:
    """Drugs by RxNorm code, the interaction table and allergy cross-sensitivities."""

    def __init__(self, drugs: Iterable[Drug], interactions: Iterable[Interaction],
                 cross: Iterable[CrossSensitivity] = ()) -> None:
        self.drugs = {d.code: d for d in drugs}
        self.interactions = tuple(interactions)
        self.cross = tuple(cross)
        self.classes = frozenset(c for d in self.drugs.values() for c in d.classes)

    def drug(self, code: str) -> Drug | None:
        return self.drugs.get(code)

    def check(self, code: str, active_codes: Iterable[str], allergies: Iterable[Allergy]) -> list[Hit]:
        """Interactions with the patient's active drugs, allergy and cross-sensitivity hits, most severe first."""
        drug = self.drugs[code]
        hits: list[Hit] = []
        for other_code in sorted(set(active_codes)):
            other = self.drugs.get(other_code)
            if other is None:
                continue
            if other.code == drug.code:
                hits.append(Hit("duplicate", f"DUP-{drug.code}", "moderate", other.code, "duplicate-therapy"))
            for ix in self.interactions:
                if (ix.a.matches(drug) and ix.b.matches(other)) or (ix.b.matches(drug) and ix.a.matches(other)):
                    hits.append(Hit("interaction", ix.id, ix.severity, other.code, ix.effect))
        for allergy in allergies:
            if (allergy.is_class and allergy.code in drug.classes) or (not allergy.is_class and allergy.code == drug.code):
                hits.append(Hit("allergy", allergy.code, "contraindicated", allergy.code, "hypersensitivity"))
                continue
            allergen_classes = {allergy.code} if allergy.is_class else set(self.drugs.get(allergy.code, _NO).classes)
            for xs in self.cross:
                if xs.allergen_class in allergen_classes and xs.drug_class in drug.classes:
                    hits.append(Hit("cross-sensitivity", xs.id, xs.severity, allergy.code, "hypersensitivity"))
        unique = {(h.kind, h.code, h.other): h for h in hits}
        return sorted(unique.values(), key=lambda h: (SEVERITIES.index(h.severity), h.kind, h.code, h.other))


class _NoDrug:
    classes: tuple[str, ...] = ()


_NO = _NoDrug()


def _side(raw: dict[str, str]) -> Side:
    return Side(code=raw.get("code"), drug_class=raw.get("class"))


def parse(formulary: dict, interactions: dict) -> Formulary:
    """Build and validate a formulary from the two JSON documents."""
    drugs = [Drug(code=d["code"], name=d["name"], atc=d["atc"], classes=tuple(d["classes"]),
                  dose_unit=d["dose_unit"], strength=float(d["strength"]), dispense_unit=d["dispense_unit"],
                  routes=tuple(d["routes"]), initial_stock=int(d["initial_stock"]),
                  max_single_dose=float(d["max_single_dose"]), source=d["source"]) for d in formulary["drugs"]]
    ixs = [Interaction(id=i["id"], a=_side(i["a"]), b=_side(i["b"]), severity=i["severity"], effect=i["effect"],
                       summary=i["summary"], source=i["source"]) for i in interactions["interactions"]]
    cross = [CrossSensitivity(**x) for x in interactions.get("cross_sensitivity", [])]
    result = Formulary(drugs, ixs, cross)
    problems = validate(result)
    if problems:
        raise FormularyError("; ".join(problems))
    return result


def validate(f: Formulary) -> list[str]:
    """Every reference resolves, every entry cites a source, codes are unique."""
    problems: list[str] = []
    for d in f.drugs.values():
        if not d.source.strip() or d.strength <= 0 or d.initial_stock < 0 or not d.routes:
            problems.append(f"drug {d.code}: source, strength, stock and routes are required")
    seen: set[str] = set()
    for ix in f.interactions:
        if ix.id in seen:
            problems.append(f"interaction {ix.id}: duplicate id")
        seen.add(ix.id)
        if ix.severity not in SEVERITIES or not ix.source.strip():
            problems.append(f"interaction {ix.id}: severity and source are required")
        for side in (ix.a, ix.b):
            if side.code and side.code not in f.drugs:
                problems.append(f"interaction {ix.id}: unknown drug code {side.code}")
            if side.drug_class and side.drug_class not in f.classes:
                problems.append(f"interaction {ix.id}: unknown class {side.drug_class}")
    for xs in f.cross:
        if xs.allergen_class not in f.classes or xs.drug_class not in f.classes or not xs.source.strip():
            problems.append(f"cross-sensitivity {xs.id}: unknown class or missing source")
    return problems


@cache
def load_formulary(directory: str | None = None) -> Formulary:
    """The shipped tables (``formulary.json``, ``interactions.json``), parsed once per process."""
    base = Path(directory) if directory else HERE
    return parse(json.loads((base / "formulary.json").read_text()),
                 json.loads((base / "interactions.json").read_text()))

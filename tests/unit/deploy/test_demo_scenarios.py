"""The demo's scenario mix: deterministic by seed, varied even for a small run, valid against the hospital."""
from __future__ import annotations

from dataclasses import asdict

import pytest

from activities.formulary import load_formulary
from deploy.demo_journey import ward_nurse
from deploy.demo_scenarios import DEFAULT_SEED, bench_scenario, generate, mix, wards_with_nurses
from deploy.demo_triage import intake_answer, ward_attending
from deploy.seed import DEMO_USERS
from workflows import intake_questions as bank
from workflows.imaging_contracts import CODE_PATTERN, MODALITIES
from workflows.pharmacy_contracts import parse_order


def test_same_seed_same_scenarios_and_a_longer_run_extends_a_shorter_one() -> None:
    assert generate(25, seed=11) == generate(25, seed=11)
    assert generate(25, seed=11)[:10] == generate(10, seed=11)
    assert generate(10) == generate(10, seed=DEFAULT_SEED)


def test_different_seeds_give_different_orders() -> None:
    assert generate(10, seed=1) != generate(10, seed=2)


@pytest.mark.parametrize("seed", [DEFAULT_SEED, 0, 1, 7, 12345])
def test_ten_patients_already_show_every_kind_of_journey(seed: int) -> None:
    m = mix(generate(10, seed=seed))
    for variant in ("ed", "ed_intake", "elective", "imaging", "no_imaging", "medications", "no_medications",
                    "interaction_or_allergy", "pharmacist_rejection", "psych_note", "critical", "denied"):
        assert m[variant] >= 1, variant
    assert m["wards"] >= 3


def test_a_long_run_keeps_mixing() -> None:
    scenarios = generate(200, seed=5)
    m = mix(scenarios)
    assert m["ed"] > 40 and m["elective"] > 40 and m["imaging"] > 40 and m["no_imaging"] > 40
    assert len({(s.arrival, s.ward, s.imaging, s.medications) for s in scenarios}) > 50
    assert [s.index for s in scenarios] == list(range(200))


def test_every_ward_used_has_a_nurse_and_an_attending() -> None:
    wards = wards_with_nurses()
    assert {"medical", "surgical", "psychiatry"} <= set(wards)
    assert "emergency" not in wards  # ED patients are triaged there, then admitted to a ward
    for s in generate(60, seed=3):
        assert s.ward in wards
        assert ward_nurse(s.ward) in {u.id for u in DEMO_USERS if u.role == "nurse"}
        assert ward_attending(s.ward) in {u.id for u in DEMO_USERS if u.role == "attending_physician"}
    assert ward_attending("emergency") == "attending-1"


def test_ed_only_fields_only_on_ed_arrivals_and_psychiatric_notes_only_on_psychiatry() -> None:
    for s in generate(80, seed=9):
        if s.ed:
            assert s.complaint
        else:
            assert s.complaint is None and s.vitals == "stable" and not s.esi_override
        if s.psych_note:
            assert s.ward == "psychiatry"


def test_every_order_is_valid_for_the_shipped_formulary_and_the_imaging_contract() -> None:
    formulary = load_formulary()
    scenarios = generate(120, seed=4) + [bench_scenario(0, "medical")]
    for plan in {m for s in scenarios for m in s.medications}:
        payload = {k: v for k, v in asdict(plan).items()
                   if k in ("drug_code", "dose", "unit", "route", "frequency_hours", "doses")}
        parse_order(payload)
        drug = formulary.drug(plan.drug_code)
        assert drug is not None, plan.drug_code
        assert plan.route in drug.routes and plan.unit == drug.dose_unit and plan.dose <= drug.max_single_dose
        assert plan.verify in ("approve", "reject") and plan.dose_status in ("given", "held", "refused")
        if plan.allergy:
            assert plan.allergy in formulary.classes or formulary.drug(plan.allergy) is not None
    for plan in {s.imaging for s in scenarios if s.imaging}:
        assert plan.modality in MODALITIES
        assert CODE_PATTERN.match(plan.body_site) and CODE_PATTERN.match(plan.reason_code)
        assert plan.radiologist in {u.id for u in DEMO_USERS if u.role == "radiologist"}


def test_the_benchmark_journey_is_fixed() -> None:
    a, b = bench_scenario(3, "surgical"), bench_scenario(3, "surgical")
    assert a == b and a.arrival == "elective" and a.imaging is not None and len(a.medications) == 1
    assert a.medications[0].doses == 1 and a.medications[0].verify == "approve"


@pytest.mark.parametrize("category", [*bank.CATEGORIES, "general"])
def test_demo_intake_answers_are_accepted_and_raise_no_red_flag(category: str) -> None:
    answers: dict = {}
    while (q := bank.next_question(category, answers)) is not None:
        question = {"id": q.id, "kind": q.kind, "options": list(q.options), "minimum": q.minimum,
                    "maximum": q.maximum}
        answers[q.id] = bank.check_answer(q, intake_answer(question))
    assert bank.question_red_flags(category, answers) == []


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        generate(-1)

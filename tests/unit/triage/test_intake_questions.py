"""The intake's question logic: categories, order, answer checks, red flags, pre-triage ESI."""
from __future__ import annotations

import pytest

from workflows import intake_questions as bank


@pytest.mark.parametrize(("complaint", "category"), [
    ("Crushing chest pain since this morning", "chest_pain"),
    ("short of breath and wheezy", "breathing"),
    ("worst headache of my life", "headache"),
    ("Pain in my tummy", "abdominal"),
    ("fell off a ladder, hurt my wrist", "injury"),
    ("fever and chills for three days", "fever"),
    ("feeling generally unwell", "general"),
    ("whiplash", "general"),  # keywords match at the start of a word only ('hit' is not in 'whiplash')
])
def test_categorise(complaint: str, category: str) -> None:
    assert bank.categorise(complaint) == category


def test_chest_pain_questions_in_order_then_done() -> None:
    answers: dict = {}
    asked = []
    while (q := bank.next_question("chest_pain", answers)) is not None:
        asked.append(q.id)
        answers[q.id] = q.options[0] if q.kind == bank.CHOICE else {"yes_no": False, "number": 3, "text": ""}[q.kind]
    assert asked == ["onset", "radiation", "breathless", "sweating", "severity", "anything_else"]
    assert bank.next_question("chest_pain", answers) is None


@pytest.mark.parametrize(("qid", "value", "expected"), [
    ("radiation", True, True), ("radiation", "Yes", True), ("radiation", "n", False),
    ("onset", "Under 1 hour", "under 1 hour"), ("severity", 7, 7), ("severity", 7.5, 7.5), ("severity", 4.0, 4),
    ("anything_else", "  nothing  ", "nothing"),
])
def test_check_answer_canonicalises(qid: str, value: object, expected: object) -> None:
    assert bank.check_answer(bank.question("chest_pain", qid), value) == expected


@pytest.mark.parametrize(("qid", "value", "message"), [
    ("radiation", "maybe", "yes or no"), ("radiation", 1, "yes or no"),
    ("onset", "last week", "one of"), ("severity", 11, "from 0 to 10"), ("severity", -1, "from 0 to 10"),
    ("severity", True, "a number"), ("severity", "7", "a number"), ("severity", float("nan"), "a number"),
    ("anything_else", "x" * 301, "at most"), ("anything_else", 3, "takes text"),
])
def test_check_answer_refuses_with_a_message(qid: str, value: object, message: str) -> None:
    with pytest.raises(bank.InvalidAnswer, match=message):
        bank.check_answer(bank.question("chest_pain", qid), value)


def test_single_answer_red_flags() -> None:
    assert bank.question_red_flags("headache", {"sudden": True}) == ["thunderclap_headache"]
    assert bank.question_red_flags("headache", {"sudden": False}) == []
    assert bank.question_red_flags("fever", {"rash": True, "confusion": True}) == ["new_confusion",
                                                                                  "non_blanching_rash"]
    assert bank.question_red_flags("breathing", {"full_sentences": False}) == ["respiratory_distress"]
    assert bank.question_red_flags("breathing", {"full_sentences": True}) == []


def test_combined_red_flags_need_every_part() -> None:
    assert bank.question_red_flags("chest_pain", {"radiation": True}) == []
    assert bank.question_red_flags("chest_pain", {"radiation": True, "sweating": True}) == ["acs_features"]
    assert bank.question_red_flags("headache", {"neck_stiffness": True, "fever": False}) == []
    assert bank.question_red_flags("headache", {"neck_stiffness": True, "fever": True}) == ["meningism"]


def test_suggested_esi() -> None:
    assert bank.suggested_esi("injury", {}, {"cardiac_arrest": 1, "head_injury_loc": 2}) == 1
    assert bank.suggested_esi("injury", {"severity": 8}, {}) == 2
    assert bank.suggested_esi("injury", {"severity": 6}, {}) == 4
    assert bank.suggested_esi("chest_pain", {}, {}) == 3
    assert bank.suggested_esi("general", {}, {}) == 4


def test_every_question_flag_has_a_ceiling() -> None:
    for cat in [*bank.CATEGORIES.values(), bank.GENERAL]:
        codes = [q.red_flag[1] for q in cat.questions if q.red_flag] + [code for _, code in cat.combined]
        assert all(code in bank.FLAG_CEILINGS for code in codes)

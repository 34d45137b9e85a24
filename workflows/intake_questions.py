"""The pre-triage intake's question bank and its deterministic logic (pure: no I/O, no clock).

A complaint is sorted into a category by keywords; each category asks a short, fixed
sequence of follow-up questions. Some answers are red flags on their own (a thunderclap
headache, a non-blanching rash); those codes, with the ESI ceiling they impose, end the
intake early. Free-text answers are screened separately by the triage model's red-flag
lexicon (an activity), because that code belongs to ``ml``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

YES_NO = "yes_no"
CHOICE = "choice"
NUMBER = "number"
TEXT = "text"
MAX_TEXT = 300


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: str
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: (answer that raises it, red-flag code) for single-answer red flags.
    red_flag: tuple[Any, str] | None = None


@dataclass(frozen=True)
class Category:
    keywords: tuple[str, ...]
    questions: tuple[Question, ...]
    default_esi: int
    #: (codes) raised when all listed yes/no questions were answered yes.
    combined: tuple[tuple[tuple[str, ...], str], ...] = field(default=())


def _yn(qid: str, text: str, flag: str | None = None) -> Question:
    return Question(qid, text, YES_NO, red_flag=(True, flag) if flag else None)


PAIN = Question("severity", "How bad is it now, from 0 (none) to 10 (worst imaginable)?", NUMBER, minimum=0, maximum=10)
ANYTHING_ELSE = Question("anything_else", "Anything else the nurse should know? (leave empty if not)", TEXT)
ONSET = Question("onset", "When did it start?", CHOICE,
                 options=("under 1 hour", "1 to 6 hours", "6 to 24 hours", "over 24 hours"))

#: ESI ceiling of each question-level red flag (1 = resuscitation, 2 = emergent).
FLAG_CEILINGS: dict[str, int] = {
    "acs_features": 2, "possible_ectopic": 2, "thunderclap_headache": 2, "meningism": 2, "stroke_signs": 2,
    "head_injury_loc": 2, "major_haemorrhage": 2, "non_blanching_rash": 2, "new_confusion": 2,
    "respiratory_distress": 2, "cyanosis": 1,
}

CATEGORIES: dict[str, Category] = {
    "chest_pain": Category(
        ("chest pain", "chest tight", "chest pressure", "chest discomfort", "chest"),
        (ONSET,
         _yn("radiation", "Does the pain spread to your arm, jaw, neck or back?"),
         _yn("breathless", "Are you short of breath?"),
         _yn("sweating", "Are you sweating or clammy?"),
         PAIN, ANYTHING_ELSE),
        default_esi=3, combined=((("radiation", "sweating"), "acs_features"),)),
    "breathing": Category(
        ("breath", "breathing", "wheez", "asthma", "cough", "sob", "copd"),
        (_yn("full_sentences", "Can you speak in full sentences?"),
         _yn("blue_lips", "Are your lips or fingertips blue or grey?", "cyanosis"),
         ONSET,
         _yn("chest_pain", "Do you have chest pain?"),
         ANYTHING_ELSE),
        default_esi=3),
    "headache": Category(
        ("headache", "head ache", "migraine"),
        (_yn("sudden", "Did it come on suddenly, the worst ever, peaking within a minute?", "thunderclap_headache"),
         _yn("weakness", "Any weakness on one side, drooping face or trouble speaking?", "stroke_signs"),
         _yn("neck_stiffness", "Is your neck stiff?"),
         _yn("fever", "Do you have a fever?"),
         PAIN, ANYTHING_ELSE),
        default_esi=3, combined=((("neck_stiffness", "fever"), "meningism"),)),
    "abdominal": Category(
        ("abdominal", "abdomen", "stomach", "belly", "tummy"),
        (Question("location", "Where is the pain?", CHOICE,
                  options=("upper", "lower right", "lower left", "lower middle", "all over")),
         _yn("vomiting_blood", "Have you vomited blood or passed black stools?", "major_haemorrhage"),
         _yn("pregnant", "Could you be pregnant?", "possible_ectopic"),
         _yn("fever", "Do you have a fever?"),
         PAIN, ANYTHING_ELSE),
        default_esi=3),
    "injury": Category(
        ("fall", "fell", "injur", "cut", "wound", "fractur", "broke", "sprain", "accident", "hit", "burn"),
        (Question("mechanism", "How did it happen?", CHOICE,
                  options=("fall", "road traffic collision", "sport", "assault", "other")),
         _yn("knocked_out", "Did you hit your head and lose consciousness?", "head_injury_loc"),
         _yn("bleeding", "Is there bleeding that will not stop with pressure?", "major_haemorrhage"),
         _yn("weight_bearing", "Can you move or put weight on the injured part?"),
         PAIN, ANYTHING_ELSE),
        default_esi=4),
    "fever": Category(
        ("fever", "temperature", "chills", "shiver", "rigor"),
        (Question("days", "For how many days have you had a fever?", NUMBER, minimum=0, maximum=60),
         _yn("rash", "Is there a rash that does not fade when a glass is pressed on it?", "non_blanching_rash"),
         _yn("confusion", "Is there new confusion or unusual drowsiness?", "new_confusion"),
         _yn("breathing", "Any difficulty breathing?"),
         ANYTHING_ELSE),
        default_esi=4),
}
GENERAL = Category((), (ONSET, PAIN, ANYTHING_ELSE), default_esi=4)


def categorise(complaint: str) -> str:
    """The first category (in bank order) with a keyword starting a word of the complaint."""
    text = " " + re.sub(r"[^a-z0-9]+", " ", complaint.lower()) + " "
    for name, cat in CATEGORIES.items():
        if any(f" {kw}" in text for kw in cat.keywords):
            return name
    return "general"


def category(name: str) -> Category:
    return CATEGORIES.get(name, GENERAL)


def next_question(name: str, answers: dict[str, Any]) -> Question | None:
    """The first question of the category not answered yet; None when the intake is complete."""
    for q in category(name).questions:
        if q.id not in answers:
            return q
    return None


def question(name: str, question_id: str) -> Question | None:
    return next((q for q in category(name).questions if q.id == question_id), None)


class InvalidAnswer(ValueError):
    """The answer does not fit the question; the message names what is expected."""


def check_answer(q: Question, value: Any) -> Any:
    """The answer in canonical form (bool, option, number, stripped text), or ``InvalidAnswer``."""
    if q.kind == YES_NO:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("yes", "no", "y", "n"):
            return value.strip().lower().startswith("y")
        raise InvalidAnswer(f"answer: question {q.id!r} takes yes or no")
    if q.kind == CHOICE:
        if isinstance(value, str) and value.strip().lower() in q.options:
            return value.strip().lower()
        raise InvalidAnswer(f"answer: question {q.id!r} takes one of: {', '.join(q.options)}")
    if q.kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidAnswer(f"answer: question {q.id!r} takes a number")
        lo, hi = q.minimum, q.maximum
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise InvalidAnswer(f"answer: question {q.id!r} takes a number from {lo:g} to {hi:g}")
        return int(value) if float(value).is_integer() else float(value)
    if not isinstance(value, str):
        raise InvalidAnswer(f"answer: question {q.id!r} takes text")
    if len(value) > MAX_TEXT:
        raise InvalidAnswer(f"answer: at most {MAX_TEXT} characters")
    return value.strip()


def question_red_flags(name: str, answers: dict[str, Any]) -> list[str]:
    """Red flags raised by single answers and by combinations of yes answers."""
    cat = category(name)
    flags = {q.red_flag[1] for q in cat.questions
             if q.red_flag is not None and q.id in answers and answers[q.id] == q.red_flag[0]}
    if name == "breathing" and answers.get("full_sentences") is False:
        flags.add("respiratory_distress")
    for needed, code in cat.combined:
        if all(answers.get(qid) is True for qid in needed):
            flags.add(code)
    return sorted(flags)


def suggested_esi(name: str, answers: dict[str, Any], flag_ceilings: dict[str, int]) -> int:
    """Pre-triage ESI: the most urgent red-flag ceiling, else severe pain (≥ 7/10) → 2, else the category's."""
    if flag_ceilings:
        return min(flag_ceilings.values())
    severity = answers.get("severity")
    if isinstance(severity, int | float) and severity >= 7:
        return 2
    return category(name).default_esi

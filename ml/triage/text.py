"""Chief-complaint text: normalisation, negation scope, red-flag phrases, model tokens.

Pure Python, shared by training and runtime so both see identical features. Negated
findings ("denies chest pain", "no shortness of breath") are kept apart from affirmed
ones (a NegEx-style scope), so neither the safety rules nor the model react to a symptom
the patient does not have. Phrases that are negative by nature ("not breathing", "no
pulse") are canonicalised first so the negation pass cannot swallow them.
"""
from __future__ import annotations

import re
from functools import lru_cache

_CANONICAL = [
    (r"\bnot breath(ing|in)\b|\bstopped breathing\b|\bisn t breathing\b|\bno breathing\b", "apnoeic"),
    (r"\bno pulse\b|\bwithout a pulse\b|\bno heartbeat\b", "pulseless"),
    (r"\bnot respon(ding|sive)\b|\bno response\b", "unresponsive"),
    (r"\bcan ?t breathe\b|\bcannot breathe\b|\bunable to breathe\b", "gasping"),
    (r"\bshort(ness)? of breath\b", "sob"),
    (r"\bsob\b", "breathless"),
]
_NEG_CUES = {"no", "denies", "denied", "deny", "denying", "without", "not", "negative", "nil", "never"}
_SCOPE_END = {"but", "however", "though", "although", "except", "yet", "complains", "reports", "has"}
_SCOPE_MAX = 6
_PAIN_SCORE = re.compile(r"\b(\d{1,2}) ?(?:/|out of) ?10\b")

# Red-flag phrases as token sequences. Code → (ceiling, phrases). Ceiling is the highest ESI
# number the safety rules allow when the phrase is affirmed in the complaint.
RED_FLAG_LEXICON: dict[str, tuple[int, tuple[str, ...]]] = {
    "cardiac_arrest": (1, ("cardiac arrest", "pulseless", "cpr", "arrested", "asystole")),
    "not_breathing": (1, ("apnoeic", "apneic", "apnoea", "apnea", "respiratory arrest")),
    "unresponsive": (1, ("unresponsive", "unconscious", "unrousable")),
    "airway_obstruction": (1, ("choking", "airway obstruction", "blocked airway")),
    "active_seizure": (1, ("seizing", "status epilepticus", "continuous seizure", "fitting now")),
    "anaphylaxis": (2, ("anaphylaxis", "anaphylactic", "throat swelling", "tongue swelling", "throat closing")),
    "major_haemorrhage": (2, ("haemorrhage", "hemorrhage", "heavy bleeding", "bleeding heavily",
                              "massive bleeding", "spurting blood", "vomiting blood", "coughing blood")),
    "stroke_signs": (2, ("stroke", "facial droop", "face drooping", "slurred speech", "one sided weakness",
                         "arm weakness", "sudden weakness")),
    "overdose": (2, ("overdose", "too many pills", "poisoning")),
    "suicide_risk": (2, ("suicidal", "suicide", "kill myself", "self harm")),
    "respiratory_distress": (2, ("gasping", "severe breathing difficulty", "struggling to breathe")),
}


def normalise(text: str) -> str:
    """Lower-case, keep letters/digits and clause punctuation, canonicalise key phrases."""
    t = text.lower().replace("'", " ").replace("’", " ")
    t = re.sub(r"[^a-z0-9/,.;:!?]+", " ", t)
    t = re.sub(r"([,.;:!?])", r" \1 ", t)
    t = re.sub(r"\s+", " ", t).strip()
    for pattern, repl in _CANONICAL:
        t = re.sub(pattern, repl, t)
    return t


def split_negation(text: str) -> tuple[list[str], list[str]]:
    """Return (affirmed tokens, negated tokens) of a normalised complaint."""
    affirmed: list[str] = []
    negated: list[str] = []
    remaining = 0
    for tok in text.split():
        if tok in ",.;:!?" or tok in _SCOPE_END:
            remaining = 0
            continue
        if tok in _NEG_CUES:
            remaining = _SCOPE_MAX
            continue
        if remaining > 0 and tok not in ("or", "nor", "and", "any", "of"):
            negated.append(tok)
            remaining -= 1
        elif remaining == 0:
            affirmed.append(tok)
    return affirmed, negated


@lru_cache(maxsize=65536)
def _close(a: str, b: str) -> bool:
    """Equal, or one typo apart (insert, delete, substitute, transpose) when either word has 5+ letters."""
    if a == b:
        return True
    if max(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def red_flags(affirmed: list[str]) -> dict[str, int]:
    """Red-flag codes found among affirmed tokens, each with its ESI ceiling."""
    found: dict[str, int] = {}
    for code, (ceiling, phrases) in RED_FLAG_LEXICON.items():
        for phrase in phrases:
            words = phrase.split()
            n = len(words)
            if any(all(_close(affirmed[i + k], words[k]) for k in range(n))
                   for i in range(len(affirmed) - n + 1)):
                found[code] = ceiling
                break
    return found


def pain_score(text: str) -> int | None:
    """A stated pain score out of ten, if the complaint carries one."""
    m = _PAIN_SCORE.search(text)
    return int(m.group(1)) if m and int(m.group(1)) <= 10 else None


def model_tokens(affirmed: list[str], negated: list[str]) -> str:
    """Space-separated \\w tokens for the TF-IDF layer inside the ONNX model.

    Affirmed words give the word, its character trigrams (robust to misspellings) and word
    bigrams; negated words give only a ``neg_`` token, so "no chest pain" never lights up
    the trigrams of "chest pain".
    """
    out: list[str] = []
    affirmed = [re.sub(r"\W", "_", w) for w in affirmed]
    for w in affirmed:
        out.append("w_" + w)
        padded = f"_{w}_"
        out.extend("c" + padded[i:i + 3] for i in range(len(padded) - 2))
    out.extend(f"b_{a}_{b}" for a, b in zip(affirmed, affirmed[1:], strict=False))
    out.extend("neg_" + re.sub(r"\W", "_", w) for w in negated)
    return " ".join(out) if out else "empty_complaint"

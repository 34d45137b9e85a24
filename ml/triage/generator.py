"""Synthetic ED triage cases labelled by the ESI v4 handbook's decision points (numpy only).

Each case draws a clinical scenario (latent truth), an age, vitals consistent with it and a
chief complaint rendered with varied phrasing, typos, abbreviations and negated distractor
symptoms ("denies chest pain"). The label follows the handbook, applied to the latent truth:
  A  immediate life-saving intervention (arrest, apnoea, airway, active seizure, P/U on ACVPU,
     a life-threatening complaint with shock)                                       → ESI 1
  B  high-risk situation, new confusion/lethargy (C/V), severe pain (≥7/10) or danger-zone
     vitals for age; NEWS2 ≥ 7 and SpO2 < 90 count as high-risk                      → ESI 2
  C  expected resources: ≥2 → 3, 1 → 4, none → 5
Resources per scenario are drawn from a distribution (real triage disagrees too), so the
task is not perfectly learnable. ``rule_critical`` marks cases a safety rule must catch.
"""
from __future__ import annotations

import numpy as np

from ml.triage.rules import danger_zone
from ml.triage.schema import TriageInput

# name: (tier, phrases, resource probabilities for 0/1/2+, vitals profile, age profile)
SCENARIOS: dict[str, tuple[str, list[str], tuple[float, float, float], str, str]] = {
    "cardiac_arrest": ("A", ["cardiac arrest", "collapsed, no pulse", "found pulseless", "cpr in progress",
                             "witnessed arrest at home"], (0, 0, 1), "arrest", "adult"),
    "not_breathing": ("A", ["not breathing", "stopped breathing", "apneic episode, blue lips",
                            "respiratory arrest"], (0, 0, 1), "arrest", "any"),
    "choking": ("A", ["choking on food", "choking, airway obstruction", "child choking on toy"],
                (0, 0, 1), "hypoxic", "any"),
    "seizure": ("A", ["seizing for 10 minutes", "status epilepticus", "continuous seizure, still fitting now"],
                (0, 0, 1), "tachy", "any"),
    "anaphylaxis": ("B", ["anaphylaxis after peanuts", "throat swelling after bee sting",
                          "anaphylactic reaction to penicillin", "tongue swelling and hives"], (0, 0, 1),
                    "shock_maybe", "any"),
    "haemorrhage": ("B", ["heavy bleeding from leg wound", "vomiting blood", "massive bleeding after fall",
                          "haemorrhage post partum", "coughing blood"], (0, 0, 1), "shock_maybe", "adult"),
    "stroke": ("B", ["facial droop and slurred speech", "sudden weakness left arm", "slurred speech since 1 hour",
                     "possible stroke, face drooping"], (0, 0, 1), "hypertensive", "older"),
    "overdose": ("B", ["overdose of paracetamol", "took too many pills", "intentional overdose"],
                 (0, 0, 1), "normal", "adult"),
    "suicidal": ("B", ["suicidal thoughts with a plan", "wants to kill myself", "self harm, suicidal"],
                 (0, 0.3, 0.7), "normal", "adult"),
    "chest_pain_acs": ("B", ["chest pain radiating to left arm", "crushing chest pain and sweating",
                             "chest tightness with nausea", "central chest pain since morning"], (0, 0, 1),
                       "tachy", "older"),
    "asthma": ("", ["wheezy and short of breath", "asthma attack", "shortness of breath, inhaler not helping"],
               (0, 0.3, 0.7), "resp", "any"),
    "sepsis": ("", ["fever and rigors", "feels hot and shivery", "fever with confusion", "high fever, very unwell"],
               (0, 0.1, 0.9), "febrile", "any"),
    "abdominal_pain": ("", ["abdominal pain", "abdo pain and vomiting", "right lower quadrant pain",
                            "stomach pain since yesterday"], (0, 0.2, 0.8), "normal", "adult"),
    "flank_pain": ("", ["flank pain radiating to groin", "kidney stone pain", "loin pain with blood in urine"],
                   (0, 0.15, 0.85), "normal", "adult"),
    "vomiting": ("", ["vomiting and diarrhoea", "cant keep fluids down", "diarrhea for three days"],
                 (0.1, 0.3, 0.6), "normal", "any"),
    "fall_hip": ("", ["fall with hip pain", "fell, cannot weight bear on hip", "elderly fall, hip pain"],
                 (0, 0.2, 0.8), "normal", "older"),
    "headache": ("", ["headache", "migraine not settling", "headache for two days"], (0.3, 0.4, 0.3),
                 "normal", "adult"),
    "ankle_injury": ("", ["twisted ankle", "ankle injury playing football", "swollen ankle after fall"],
                     (0.15, 0.8, 0.05), "normal", "any"),
    "wrist_injury": ("", ["wrist pain after fall", "possible broken wrist", "fell on outstretched hand"],
                     (0.05, 0.75, 0.2), "normal", "any"),
    "laceration": ("", ["cut finger on knife", "laceration to forearm", "small cut on scalp"],
                   (0.2, 0.75, 0.05), "normal", "any"),
    "uti": ("", ["burning when passing urine", "urinary symptoms", "uti symptoms"], (0.2, 0.75, 0.05),
            "normal", "adult"),
    "sore_throat": ("", ["sore throat", "painful throat for 3 days", "tonsils sore"], (0.8, 0.2, 0),
                    "normal", "any"),
    "rash": ("", ["itchy rash", "rash on arms", "skin rash for a week"], (0.85, 0.15, 0), "normal", "any"),
    "earache": ("", ["earache", "ear pain", "pulling at ear"], (0.85, 0.15, 0), "normal", "child"),
    "med_refill": ("", ["needs prescription refill", "ran out of medication", "repeat prescription"],
                   (0.95, 0.05, 0), "normal", "adult"),
    "cold": ("", ["runny nose and cough", "cold symptoms", "mild cough"], (0.8, 0.2, 0), "normal", "any"),
    "back_pain": ("", ["back pain", "lower back pain after lifting", "chronic back pain flare"],
                  (0.5, 0.4, 0.1), "normal", "adult"),
}
_NEGATED = ["denies chest pain", "no shortness of breath", "no fever", "denies vomiting", "no head injury",
            "no loss of consciousness", "denies headache", "not short of breath", "no facial droop",
            "no bleeding", "denies suicidal thoughts", "no seizure", "without vomiting"]
_SEVERE = ["severe", "excruciating", "worst ever", "10/10", "9/10", "8 out of 10", "unbearable"]
_MILD = ["mild", "3/10", "2/10", "minor", "slight"]
_PREFIX = ["", "", "", "pt c/o ", "complains of ", "patient reports ", "brought in with ", "c/o "]


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 5 or not word.isalpha():
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(0, 3)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def _text(phrase: str, pain: str, rng: np.random.Generator) -> str:
    words = [(_typo(w, rng) if rng.random() < 0.08 else w) for w in phrase.split()]
    core = " ".join(words)
    if pain == "severe":
        core = (f"{rng.choice(_SEVERE)} {core}" if rng.random() < 0.5 else f"{core}, {rng.choice(_SEVERE)}")
    elif pain == "mild" and rng.random() < 0.5:
        core = f"{rng.choice(_MILD)} {core}"
    text = str(rng.choice(_PREFIX)) + core
    for _ in range(int(rng.choice([0, 0, 1, 1, 2]))):
        neg = str(rng.choice(_NEGATED))
        text = f"{text}, {neg}" if rng.random() < 0.7 else f"{neg}. {text}"
    return text.upper() if rng.random() < 0.1 else text


def _age(profile: str, rng: np.random.Generator) -> int:
    if profile == "adult":
        return int(rng.integers(16, 90))
    if profile == "older":
        return int(rng.integers(45, 100))
    if profile == "child":
        return int(rng.integers(0, 12))
    return int(rng.choice([rng.integers(0, 3), rng.integers(3, 16), rng.integers(16, 95)], p=[0.15, 0.2, 0.65]))


def _vitals(profile: str, age: int, rng: np.random.Generator) -> dict:
    child = age < 8
    v = dict(respiratory_rate=int(rng.normal(30 if age < 2 else 22 if child else 16, 3 if child else 2.5)),
             spo2=int(min(100, rng.normal(97.5, 1.5))), systolic_bp=int(rng.normal(95 if child else 128, 14)),
             heart_rate=int(rng.normal(125 if age < 2 else 105 if child else 80, 12 if child else 10)),
             temperature=round(float(rng.normal(36.9, 0.4)), 1), consciousness="A", on_oxygen=False)
    if profile == "arrest":
        v.update(respiratory_rate=int(rng.integers(0, 6)), spo2=int(rng.integers(50, 85)),
                 systolic_bp=int(rng.integers(0, 70)), heart_rate=int(rng.integers(0, 40)),
                 consciousness="U", on_oxygen=bool(rng.random() < 0.5))
    elif profile == "hypoxic":
        v.update(respiratory_rate=int(rng.integers(26, 40)), spo2=int(rng.integers(75, 92)),
                 heart_rate=int(rng.integers(110, 160)))
    elif profile == "tachy":
        v.update(heart_rate=int(rng.integers(95, 150)), respiratory_rate=int(rng.integers(16, 28)))
    elif profile == "shock_maybe" and rng.random() < 0.4:
        v.update(systolic_bp=int(rng.integers(60, 91)), heart_rate=int(rng.integers(115, 160)),
                 spo2=int(rng.integers(82, 96)))
    elif profile == "hypertensive":
        v.update(systolic_bp=int(rng.integers(150, 230)))
    elif profile == "resp" and rng.random() < 0.5:
        v.update(respiratory_rate=int(rng.integers(22, 34)), spo2=int(rng.integers(86, 95)),
                 heart_rate=int(rng.integers(95, 130)), on_oxygen=bool(rng.random() < 0.3))
    elif profile == "febrile":
        v.update(temperature=round(float(rng.uniform(38.0, 40.5)), 1), heart_rate=int(rng.integers(90, 140)))
        if rng.random() < 0.2:
            v.update(consciousness="C", systolic_bp=int(rng.integers(80, 110)))
    if profile not in ("arrest",) and rng.random() < 0.04:
        v["consciousness"] = str(rng.choice(["C", "V", "P"], p=[0.5, 0.35, 0.15]))
    v["respiratory_rate"] = int(np.clip(v["respiratory_rate"], 0, 80))
    v["heart_rate"] = int(np.clip(v["heart_rate"], 0, 300))
    v["systolic_bp"] = int(np.clip(v["systolic_bp"], 0, 300))
    v["spo2"] = int(np.clip(v["spo2"], 0, 100))
    return v


def generate(n: int, seed: int) -> list[tuple[TriageInput, int, bool]]:
    """``n`` cases as (request, true ESI, rule_critical), reproducible from ``seed``."""
    from ml.triage.news2 import Vitals, news2

    rng = np.random.default_rng(seed)
    names = list(SCENARIOS)
    weights = np.array([0.6, 0.5, 0.4, 0.4, 1, 1, 1.2, 0.8, 0.8, 2.5, 2.5, 3, 5, 2, 3, 2, 3, 5, 3, 5, 3, 4, 3,
                        2, 2, 3, 3], dtype=float)
    out = []
    for _ in range(n):
        name = str(rng.choice(names, p=weights / weights.sum()))
        tier, phrases, res_p, vprof, aprof = SCENARIOS[name]
        age = _age(aprof, rng)
        v = _vitals(vprof, age, rng)
        pain = "none" if tier == "A" else str(rng.choice(["none", "mild", "severe"], p=[0.6, 0.3, 0.1]))
        req = TriageInput(age=age, complaint=_text(str(rng.choice(phrases)), pain, rng), spo2_scale=1, **v)
        score = news2(Vitals(req.respiratory_rate, req.spo2, req.on_oxygen, req.systolic_bp, req.heart_rate,
                             req.consciousness, req.temperature, 1))
        shock = req.systolic_bp <= 90 or req.spo2 < 90
        vital_critical = score.score >= 7 or req.spo2 < 90 or req.consciousness in ("P", "U")
        if tier == "A" or req.consciousness in ("P", "U") or (name in ("anaphylaxis", "haemorrhage") and shock):
            esi = 1
        elif (tier == "B" or req.consciousness in ("C", "V") or pain == "severe" or danger_zone(req)
              or vital_critical or (age == 0 and req.temperature >= 38.0)):
            esi = 2
        else:
            esi = 5 - int(rng.choice(3, p=res_p))
        critical = vital_critical or (tier in ("A", "B") and name not in ("chest_pain_acs",))
        out.append((req, esi, critical))
    return out

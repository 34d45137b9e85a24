"""Model registry (one session per model, thread-safe use) and the ``python -m ml.cli`` entry points."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ml.runtime import ModelRegistry, make_session, session_options
from ml.triage.generator import generate


def test_session_options_fit_two_cores() -> None:
    opts = session_options()
    assert 1 <= opts.intra_op_num_threads <= 2
    assert opts.inter_op_num_threads == 1


def test_missing_model_file_says_how_to_rebuild(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="hms ml train"):
        make_session(tmp_path / "absent.onnx")


def test_registry_is_safe_to_share_between_threads(models_dir: Path) -> None:
    reg = ModelRegistry.load(models_dir)
    cases = [req for req, _, _ in generate(120, 4242)]
    sequential = [reg.triage.score(c) for c in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(reg.triage.score, cases))
    assert threaded == sequential
    assert len({r.esi_suggested for r in sequential}) >= 3


def test_imaging_absent_gives_a_clear_error(tmp_path: Path) -> None:
    reg = ModelRegistry(models_dir=tmp_path, triage=None, forecast=None)
    with pytest.raises(RuntimeError, match="imaging model unavailable"):
        _ = reg.imaging


def test_bench_command_prints_latency_table() -> None:
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-m", "ml.cli", "bench", "-n", "40"], cwd=root, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| triage") or line.startswith("| forecast")]
    assert len(rows) == 2
    for row in rows:
        p50, p99 = (float(c) for c in row.strip("|").split("|")[1:3])
        assert 0 < p50 <= p99

"""Functions behind ``hms ml train|eval|bench`` (also ``python -m ml.cli train|eval|bench``).

``train_all`` needs the ``train`` extra; ``eval_all`` and ``bench_inference`` need only the
runtime (onnxruntime, numpy). The imaging model is built by ``ml.imaging``; until that package
is present its rows say so instead of failing the others.
"""
from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ml.runtime import DEFAULT_MODELS_DIR

_IMAGING_MISSING = "imaging model not available yet (ml.imaging not installed in this build)"


def _imaging(module: str) -> object | None:
    try:
        return importlib.import_module(f"ml.imaging.{module}")
    except ImportError:
        return None


def train_all(models_dir: Path, seed: int = 7) -> dict:
    """Rebuild every model offline from ``seed`` (writes .onnx, metadata, parity fixtures, model cards)."""
    from ml.forecast.train import train as train_forecast
    from ml.triage.train import train as train_triage

    models_dir = Path(models_dir)
    out: dict = {"triage_esi": train_triage(models_dir, seed), "forecast": train_forecast(models_dir, seed)}
    imaging = _imaging("train")
    out["imaging"] = imaging.train(models_dir, seed) if imaging else {"skipped": _IMAGING_MISSING}
    return out


def _fmt(v: object) -> str:
    """Numbers to 3 decimals, numpy scalars as Python values, nested dicts flattened to one line."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, dict):
        return ", ".join(f"{_fmt(k)}: {_fmt(x)}" for k, x in v.items())
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def eval_results(models_dir: Path) -> dict:
    """Fresh held-out metrics per model, computed from the committed files (runtime deps only)."""
    from ml.forecast.evaluate import evaluate as eval_forecast
    from ml.triage.evaluate import evaluate as eval_triage

    imaging = _imaging("evaluate")
    return {"triage_esi": eval_triage(Path(models_dir)), "forecast": eval_forecast(Path(models_dir)),
            "imaging": imaging.evaluate(Path(models_dir)) if imaging else None}


def format_eval(results: dict) -> str:
    """Markdown: each model's metrics next to its baseline and goal."""
    t, f = results["triage_esi"], results["forecast"]
    lines = ["# Model evaluation (held-out generated data; decision support, not diagnosis)", "",
             "## triage_esi (goal: macro-F1 ≥ rules-only, under-triage of rule-critical = 0)",
             "| metric | model + rules | rules-only baseline |", "| --- | --- | --- |"]
    for k in ("accuracy", "macro_f1", "under_triage", "over_triage", "under_triage_rule_critical", "n"):
        lines.append(f"| {k} | {_fmt(t['model'][k])} | {_fmt(t['rules_only'][k])} |")
    lines += ["", "## forecast (goal: MAE ≥ 15% better than seasonal-naive, band coverage 80% ± 5)",
              "| metric | model | seasonal-naive baseline |", "| --- | --- | --- |",
              f"| mae | {_fmt(f['model']['mae'])} | {_fmt(f['seasonal_naive']['mae'])} |",
              f"| mae_first_24h | {_fmt(f['model']['mae_first_24h'])} | {_fmt(f['seasonal_naive']['mae_first_24h'])} |",
              f"| band_coverage_10_90 | {_fmt(f['model']['band_coverage'])} | – |",
              f"| mae_no_history (calendar only) | {_fmt(f['model']['mae_no_history'])} | – |",
              f"| mae_improvement | {100 * f['mae_improvement']:.1f}% | – |", "", "## imaging"]
    if results.get("imaging") is None:
        lines.append(_IMAGING_MISSING)
    else:
        lines += [f"- {k}: {_fmt(v)}" for k, v in results["imaging"].items()]
    return "\n".join(lines)


def eval_all(models_dir: Path) -> str:
    """Each model's held-out metrics next to its baseline, computed now from the committed models."""
    return format_eval(eval_results(models_dir))


def _latency(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    for i in range(min(50, n)):
        fn(i)
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times[i] = time.perf_counter() - t0
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def _imaging_call(reg: object) -> Callable[[int], object]:
    """One imaging request: the module's ``example_input()`` if it offers one, else a real radiograph."""
    model = reg.imaging  # type: ignore[attr-defined]
    module = importlib.import_module("ml.imaging.runtime")
    if hasattr(module, "example_input"):
        example = module.example_input()
        return lambda i: model.score(example)
    from pydicom.data import get_testdata_file

    data = Path(get_testdata_file("RG1_UNCR.dcm")).read_bytes()
    return lambda i: model.score_dicom(data)


def bench_inference(models_dir: Path, n: int = 2000) -> str:
    """p50/p99 latency of one request per model, single-threaded caller, as a markdown table."""
    from ml.runtime import ModelRegistry
    from ml.triage.generator import generate

    reg = ModelRegistry.load(Path(models_dir))
    cases = [req for req, _, _ in generate(256, 12345)]
    rows = [("triage (NEWS2 + text features + ESI model + rules)", *_latency(
        lambda i: reg.triage.score(cases[i % len(cases)]), n))]
    start = datetime(2025, 3, 3, 8)
    history = [(start - timedelta(hours=h), 7) for h in range(1, 673)]
    rows.append(("forecast (72 h, 672 h history)", *_latency(
        lambda i: reg.forecast.forecast(history, start, 72), max(1, n // 4))))
    try:
        rows.append(("imaging pre-screen (DICOM radiograph → score)", *_latency(_imaging_call(reg), max(1, n // 20))))
    except (RuntimeError, AttributeError, ImportError, OSError) as exc:
        rows.append((f"imaging: not benchmarked ({exc})", float("nan"), float("nan")))
    out = ["| model | p50 ms | p99 ms |", "| --- | --- | --- |"]
    out += [f"| {name} | {p50:.3f} | {p99:.3f} |" for name, p50, p99 in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """``python -m ml.cli train|eval|bench [--models-dir DIR] [--seed N] [-n N]``."""
    parser = argparse.ArgumentParser(prog="python -m ml.cli", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["train", "eval", "bench"])
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.command == "train":
        import json
        print(json.dumps(train_all(args.models_dir, args.seed), indent=1, default=str))
    elif args.command == "eval":
        print(eval_all(args.models_dir))
    else:
        print(bench_inference(args.models_dir, args.n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

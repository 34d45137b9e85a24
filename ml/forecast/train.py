"""Train the ER-arrival forecast offline and export one ONNX graph (needs the ``train`` extra).

Three HistGradientBoosting heads over the same features: Poisson loss for the expected count
(exported as a log-prediction, so the graph applies exp()) and quantile loss for the 10th and
90th percentiles. The band is then widened or narrowed by one factor, chosen on a calibration
year that training never saw (a whole winter and summer), so 80% of hours fall inside it.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.ensemble import HistGradientBoostingRegressor

from ml.forecast.calendar import calendar_arrays, hours_since_epoch
from ml.forecast.card import write_card
from ml.forecast.evaluate import SERIES_END, SERIES_START, TEST_START, evaluate_series
from ml.forecast.features import FEATURE_NAMES, HISTORY_HOURS, MAX_HORIZON, make_features, profile
from ml.forecast.generator import generate, mean_rate
from ml.forecast.runtime import META_FILE, MODEL_FILE

CALIB_START = datetime(2024, 1, 1)


def _heads(x: np.ndarray, y: np.ndarray, seed: int) -> list[HistGradientBoostingRegressor]:
    common = dict(max_iter=150, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=40,
                  early_stopping=False, random_state=seed)
    return [HistGradientBoostingRegressor(loss="poisson", **common).fit(x, y),
            HistGradientBoostingRegressor(loss="quantile", quantile=0.1, **common).fit(x, y),
            HistGradientBoostingRegressor(loss="quantile", quantile=0.9, **common).fit(x, y)]


def _export(heads: list, scale: float) -> onnx.ModelProto:
    """Merge the three heads into one graph: input ``features``, outputs ``expected``, ``p10``, ``p90``."""
    sample = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    nodes, inits, raw = [], [], []
    opsets: dict[str, int] = {}
    for name, head in zip(("mean", "lo", "hi"), heads, strict=True):
        m = to_onnx(head, sample, target_opset={"": 17, "ai.onnx.ml": 3})
        m = compose.add_prefix(m, f"{name}_")
        nodes.append(helper.make_node("Identity", ["features"], [m.graph.input[0].name]))
        nodes.extend(m.graph.node)
        inits.extend(m.graph.initializer)
        raw.append(m.graph.output[0].name)
        for op in m.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)
    inits.append(numpy_helper.from_array(np.array([scale], dtype=np.float32), "band_scale"))
    nodes += [
        helper.make_node("Exp", [raw[0]], ["expected"]),
        helper.make_node("Sub", ["expected", raw[1]], ["lo_gap"]),
        helper.make_node("Mul", ["lo_gap", "band_scale"], ["lo_gap_s"]),
        helper.make_node("Sub", ["expected", "lo_gap_s"], ["p10"]),
        helper.make_node("Sub", [raw[2], "expected"], ["hi_gap"]),
        helper.make_node("Mul", ["hi_gap", "band_scale"], ["hi_gap_s"]),
        helper.make_node("Add", ["expected", "hi_gap_s"], ["p90"]),
    ]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 1]) for n in ("expected", "p10", "p90")]
    graph = helper.make_graph(nodes, "er_arrivals", [helper.make_tensor_value_info(
        "features", TensorProto.FLOAT, [None, len(FEATURE_NAMES)])], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    model.ir_version = 8
    model.doc_string = "Hourly ER arrivals, expected and 10th-90th percentile band: decision support"
    onnx.checker.check_model(model)
    return model


def _band(heads: list, x: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = heads[0].predict(x)
    lo = mean - scale * (mean - heads[1].predict(x))
    hi = mean + scale * (heads[2].predict(x) - mean)
    return mean, lo, hi


def train(models_dir: Path, seed: int = 7) -> dict:
    """Generate the series from ``seed``, fit on 2022–2023, calibrate the band on 2024, test on 2025."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    idx, y = generate(SERIES_START, SERIES_END, seed)
    calib = hours_since_epoch(CALIB_START) - idx[0]
    cal = calendar_arrays(idx[:calib])
    overall = y[:calib].mean()
    hw = np.zeros((7, 24))
    for d in range(7):
        for h in range(24):
            hw[d, h] = y[:calib][(cal["weekday"] == d) & (cal["hour"] == h)].mean()
    month = np.array([y[:calib][cal["month"] == m].mean() / overall for m in range(1, 13)])
    prof = profile(idx, hw, month)
    yf = y.astype(np.float64)
    tr_o = np.arange(HISTORY_HOURS, calib - MAX_HORIZON, 19)
    x_tr = make_features(yf, prof, idx, tr_o, MAX_HORIZON)
    y_tr = y[(np.repeat(tr_o, MAX_HORIZON) + np.tile(np.arange(MAX_HORIZON), len(tr_o)))]
    heads = _heads(x_tr, y_tr, seed)
    ca_o = np.arange(calib, hours_since_epoch(TEST_START) - idx[0] - MAX_HORIZON, 13)
    x_ca = make_features(yf, prof, idx, ca_o, MAX_HORIZON)
    y_ca = y[(np.repeat(ca_o, MAX_HORIZON) + np.tile(np.arange(MAX_HORIZON), len(ca_o)))]
    scales = np.round(np.arange(0.7, 1.41, 0.02), 2)
    cover = [float(np.mean((lambda b: (b[1] <= y_ca) & (y_ca <= b[2]))(_band(heads, x_ca, s)))) for s in scales]
    scale = float(scales[int(np.argmin(np.abs(np.array(cover) - 0.80)))])
    model = _export(heads, scale)
    (models_dir / MODEL_FILE).write_bytes(model.SerializeToString())
    meta = {"version": f"forecast-hgb-s{seed}", "seed": seed, "band_scale": scale, "features": FEATURE_NAMES,
            "profile_hour_weekday": hw.round(4).tolist(), "profile_month": month.round(4).tolist(),
            "calibration_coverage": dict(zip(map(str, scales.tolist()), cover, strict=True))}
    (models_dir / META_FILE).write_text(json.dumps(meta, indent=1))
    x_par = x_ca[:: max(1, len(x_ca) // 96)][:96]
    mean, lo, hi = _band(heads, x_par, scale)
    (models_dir / "forecast_parity.json").write_text(json.dumps(
        {"features": x_par.tolist(), "expected": mean.tolist(), "p10": lo.tolist(), "p90": hi.tolist()}))
    result = evaluate_series(models_dir, idx, y, mean_rate(SERIES_START, SERIES_END, seed)[1])
    write_card(models_dir, meta, result, (models_dir / MODEL_FILE).stat().st_size)
    return {"version": meta["version"], "band_scale": scale, **result}

"""Train the ESI model offline and export it to ONNX (needs the ``train`` extra).

TF-IDF over prepared complaint tokens (character trigrams, words, bigrams, negated words)
joined with engineered clinical features, into a multinomial logistic regression. The ONNX
graph holds the TF-IDF vocabulary and the linear layer, so the runtime needs onnxruntime only.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import scipy.sparse as sp
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import StringTensorType
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ml.triage.card import write_card
from ml.triage.evaluate import HELDOUT_N, score_cases
from ml.triage.features import NUMERIC_NAMES, prepare
from ml.triage.generator import generate
from ml.triage.runtime import META_FILE, MODEL_FILE, TriageModel

TRAIN_N = 24000
VALID_N = 4000
THRESHOLDS = [0.3, 0.35, 0.4, 0.45, 0.5]


def _export(vec: TfidfVectorizer, clf: LogisticRegression, mean: np.ndarray, scale: np.ndarray) -> onnx.ModelProto:
    """TF-IDF graph from skl2onnx, then Concat → MatMul → Add → Softmax with scaling folded into W."""
    model = to_onnx(vec, initial_types=[("text", StringTensorType([None, 1]))], target_opset=17)
    g = model.graph
    tfidf_out = g.output[0].name
    n_vocab = len(vec.vocabulary_)
    w = clf.coef_.T.astype(np.float64)  # (features, classes)
    w_num = w[n_vocab:] / scale[:, None]
    b = clf.intercept_ - (mean / scale) @ w[n_vocab:]
    w_all = np.vstack([w[:n_vocab], w_num]).astype(np.float32)
    g.initializer.extend([numpy_helper.from_array(w_all, "esi_W"),
                          numpy_helper.from_array(b.astype(np.float32), "esi_b")])
    g.input.append(helper.make_tensor_value_info("numeric", TensorProto.FLOAT, [None, len(NUMERIC_NAMES)]))
    g.node.extend([
        helper.make_node("Concat", [tfidf_out, "numeric"], ["esi_x"], axis=1),
        helper.make_node("MatMul", ["esi_x", "esi_W"], ["esi_z0"]),
        helper.make_node("Add", ["esi_z0", "esi_b"], ["esi_z"]),
        helper.make_node("Softmax", ["esi_z"], ["probabilities"], axis=1),
    ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 5]))
    model.doc_string = "ESI 1-5 suggestion: decision support, not diagnosis"
    onnx.checker.check_model(model)
    return model


def train(models_dir: Path, seed: int = 7) -> dict:
    """Generate cases from ``seed``, fit, export, record parity fixtures and write the model card."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    cases = generate(TRAIN_N + VALID_N, seed)
    prepared = [prepare(r) for r, _, _ in cases]
    y = np.array([e for _, e, _ in cases])
    tokens = [p.tokens for p in prepared]
    num = np.stack([p.numeric for p in prepared]).astype(np.float64)
    vec = TfidfVectorizer(lowercase=False, min_df=3, dtype=np.float32).fit(tokens[:TRAIN_N])
    mean, scale = num[:TRAIN_N].mean(0), num[:TRAIN_N].std(0) + 1e-6
    x = sp.hstack([vec.transform(tokens), sp.csr_matrix((num - mean) / scale)]).tocsr()
    clf = LogisticRegression(C=2.0, max_iter=3000).fit(x[:TRAIN_N], y[:TRAIN_N])
    model = _export(vec, clf, mean, scale)
    (models_dir / MODEL_FILE).write_bytes(model.SerializeToString())

    version = f"triage-esi-lr-tfidf-s{seed}"
    meta = {"version": version, "threshold": 0.5, "seed": seed, "heldout_seed": seed + 1000,
            "numeric_features": NUMERIC_NAMES, "vocabulary_size": len(vec.vocabulary_)}
    (models_dir / META_FILE).write_text(json.dumps(meta, indent=1))
    runtime = TriageModel.load(models_dir)
    valid = cases[TRAIN_N:]
    by_t = {t: score_cases(runtime, valid, threshold=t)["model"] for t in THRESHOLDS}
    best = max(THRESHOLDS, key=lambda t: by_t[t]["macro_f1"] - by_t[t]["under_triage"])
    meta["threshold"] = best
    meta["validation"] = {str(t): m for t, m in by_t.items()}
    (models_dir / META_FILE).write_text(json.dumps(meta, indent=1))

    idx = np.arange(TRAIN_N, TRAIN_N + 64)
    parity = {"tokens": [tokens[i] for i in idx], "numeric": num[idx].astype(np.float32).tolist(),
              "probabilities": clf.predict_proba(x[idx]).tolist()}
    (models_dir / "triage_esi_parity.json").write_text(json.dumps(parity))
    result = score_cases(TriageModel.load(models_dir), generate(HELDOUT_N, seed + 1000))
    write_card(models_dir, meta, result, (models_dir / MODEL_FILE).stat().st_size)
    return {"version": version, "threshold": best, **result}

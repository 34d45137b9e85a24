"""Train the imaging pre-screen on synthetic plates and ship it as ONNX (needs the ``train`` extra).

Writes into ``models_dir``:

* ``imaging_prescreen.onnx`` – the network, input ``image`` (B,1,128,128), outputs ``score`` (B,)
  and ``heatmap`` (B,1,16,16), both probabilities;
* ``imaging_prescreen.json`` – version, operating threshold and training metrics;
* ``imaging_prescreen.md`` – the model card, with held-out metrics from :func:`evaluate`;
* ``imaging_prescreen_parity.npz`` – inputs and the torch outputs on them, so tests can check
  onnxruntime against the training framework without torch installed.

The loss is image-label and anomaly-map cross-entropy plus a hinge ranking loss on matched pairs
(:mod:`ml.imaging.pairs`): a plate with one more finding must score at least ``RANK_MARGIN`` logits
higher than the same plate without it. The threshold is chosen on a validation set (never the
evaluation set) as the highest one with ≥ 95 % sensitivity: a pre-screen exists to not miss, and
specificity is what it costs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

from ml.imaging.card import write_card
from ml.imaging.evaluate import evaluate
from ml.imaging.metrics import auroc, operating_point, pixel_statistics_score, threshold_for_sensitivity
from ml.imaging.pairs import make_pairs
from ml.imaging.synth import make_dataset

MODEL_FILE = "imaging_prescreen.onnx"
META_FILE = "imaging_prescreen.json"
PARITY_FILE = "imaging_prescreen_parity.npz"
TARGET_SENSITIVITY = 0.95
N_TRAIN, N_VAL, EPOCHS, BATCH = 5000, 1000, 8, 32
N_PAIRS, PAIR_BATCH, RANK_MARGIN = 1200, 8, 0.25
log = logging.getLogger(__name__)


def train(models_dir: Path, seed: int) -> dict:
    """Generate data from ``seed``, train, export and record parity; returns validation metrics."""
    import torch
    from torch.nn import functional as F

    from ml.imaging.model import LSE_SHARPNESS, ExportWrapper, PrescreenNet

    started = time.perf_counter()
    torch.set_num_threads(1)  # the build machine's cores are shared
    torch.manual_seed(seed)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    train_set, val_set = make_dataset(N_TRAIN, seed), make_dataset(N_VAL, seed + 1)
    x, y = torch.from_numpy(train_set["x"]), torch.from_numpy(train_set["y"]).float()
    m = torch.from_numpy(train_set["mask"])[:, None]
    pairs = make_pairs(N_PAIRS, seed + 2)
    pair_x = torch.from_numpy(np.stack([pairs["base"], pairs["plus"]], axis=1))  # (N, 2, 1, H, W)

    net = PrescreenNet()
    steps = EPOCHS * (N_TRAIN // BATCH)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    map_pos_weight = torch.tensor(4.0)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for epoch in range(EPOCHS):
        log.info("imaging epoch %d/%d (%.0f s)", epoch + 1, EPOCHS, time.perf_counter() - started)
        perm = torch.randperm(N_TRAIN, generator=gen)
        for i in range(N_TRAIN // BATCH):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            xb, yb, mb = x[idx], y[idx], m[idx]
            if torch.rand(1, generator=gen).item() < 0.5:  # left/right mirror: anomalies are not sided
                xb, mb = xb.flip(-1), mb.flip(-1)
            pb = pair_x[torch.randint(0, N_PAIRS, (PAIR_BATCH,), generator=gen)].flatten(0, 1)
            if torch.rand(1, generator=gen).item() < 0.5:
                pb = pb.flip(-1)
            pooled, logit_map = net(torch.cat([xb, pb]))
            base_logit, plus_logit = pooled[BATCH:].view(PAIR_BATCH, 2).unbind(1)
            loss = (F.binary_cross_entropy_with_logits(pooled[:BATCH], yb)
                    + F.binary_cross_entropy_with_logits(logit_map[:BATCH], mb, pos_weight=map_pos_weight)
                    + F.relu(RANK_MARGIN - (plus_logit - base_logit)).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()

    wrapper = ExportWrapper(net).eval()
    with torch.no_grad():
        val_scores = torch.cat([wrapper(torch.from_numpy(val_set["x"][i:i + 256]))[0]
                                for i in range(0, N_VAL, 256)]).numpy()
    threshold = threshold_for_sensitivity(val_set["y"], val_scores, TARGET_SENSITIVITY)
    metrics = {
        "val_auroc": auroc(val_set["y"], val_scores),
        "threshold": threshold,
        **{f"val_{k}": v for k, v in operating_point(val_set["y"], val_scores, threshold).items()},
        "val_baseline_auroc": auroc(val_set["y"], pixel_statistics_score(val_set["x"])),
        "n_train": N_TRAIN, "n_val": N_VAL, "n_pairs": N_PAIRS, "rank_margin": RANK_MARGIN,
        "epochs": EPOCHS, "seed": seed,
        "params": sum(p.numel() for p in net.parameters()),
        "pool_sharpness": LSE_SHARPNESS,
    }

    onnx_path = models_dir / MODEL_FILE
    dummy = torch.from_numpy(val_set["x"][:1])
    torch.onnx.export(wrapper, (dummy,), str(onnx_path), dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["score", "heatmap"],
                      dynamic_axes={"image": {0: "batch"}, "score": {0: "batch"}, "heatmap": {0: "batch"}})
    _record_parity(wrapper, val_set, models_dir / PARITY_FILE)
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    meta = {
        "name": "imaging-prescreen",
        "version": f"imaging-prescreen-1.0+{digest[:12]}",
        "sha256": digest,
        "input_size": int(val_set["x"].shape[-1]),
        "threshold": threshold,
        "target_sensitivity": TARGET_SENSITIVITY,
        "metrics": metrics,
        "intended_use": "decision support, not diagnosis",
    }
    (models_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    held_out = evaluate(models_dir)
    write_card(models_dir, meta, held_out)
    return {**metrics, "held_out": held_out}


def _record_parity(wrapper, val_set: dict[str, np.ndarray], path: Path) -> None:
    """Store a few inputs (as float16, to keep the fixture small) and the torch outputs on them."""
    import torch

    pick = np.r_[np.flatnonzero(val_set["y"] == 0)[:3], np.flatnonzero(val_set["y"] == 1)[:3]]
    x16 = val_set["x"][pick].astype(np.float16)
    with torch.no_grad():
        score, heatmap = wrapper(torch.from_numpy(x16.astype(np.float32)))
    np.savez_compressed(path, x=x16, score=score.numpy(), heatmap=heatmap.numpy())

"""Evaluate the shipped pre-screen on freshly generated held-out plates (onnxruntime + numpy only).

The held-out set comes from ``EVAL_SEED``, a generator stream training never uses (training uses
``seed`` to ``seed + 2`` with small seeds), and is scored with the threshold fixed at training
time, so the sensitivity/specificity reported here is an honest estimate on this distribution.
It says nothing about real pathology: see the model card.
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np

from ml.imaging.metrics import auroc, operating_point, pixel_statistics_score, threshold_for_sensitivity
from ml.imaging.pairs import make_pairs
from ml.imaging.runtime import ImagingModel
from ml.imaging.synth import make_dataset, synth_case

EVAL_SEED = 20_261_125
N_EVAL = 600
LATENCY_RUNS = 30


def evaluate(models_dir: Path, n: int = N_EVAL, latency_runs: int = LATENCY_RUNS, real_plate: bool = True) -> dict:
    """AUROC, sensitivity and specificity at the shipped threshold, a pixel-statistics baseline,
    per-kind sensitivity, how often one more finding raises a plate's score (``n // 4`` held-out
    pairs), end-to-end DICOM latency (p50/p99, milliseconds) and the real-plate check."""
    model = ImagingModel.load(models_dir)
    data = make_dataset(n, EVAL_SEED)
    scores = np.concatenate([model.score_batch(data["x"][i:i + 64])[0] for i in range(0, n, 64)])
    y = data["y"]
    at_threshold = operating_point(y, scores, model.threshold)
    per_kind = {kind: float((scores[data["kind"] == kind] >= model.threshold).mean())
                for kind in np.unique(data["kind"]) if kind != "none"}
    baseline = pixel_statistics_score(data["x"])
    base_t = threshold_for_sensitivity(y, baseline, 0.95)
    result = {
        "model_version": model.version,
        "n": int(n),
        "auroc": auroc(y, scores),
        "threshold": model.threshold,
        "sensitivity": at_threshold["sensitivity"],
        "specificity": at_threshold["specificity"],
        "sensitivity_by_kind": per_kind,
        "baseline_auroc": auroc(y, baseline),
        "baseline_specificity_at_95_sensitivity": operating_point(y, baseline, base_t)["specificity"],
        "note": "decision support, not diagnosis; synthetic held-out data",
        **added_finding_check(model, max(4, n // 4)),
    }
    if latency_runs:
        result.update(dicom_latency_ms(model, latency_runs))
    if real_plate:
        result["real_plate"] = real_plate_check(model)
    return result


def added_finding_check(model: ImagingModel, n_pairs: int) -> dict:
    """Share of held-out pairs (:mod:`ml.imaging.pairs`) where the plate with one more finding scores
    higher than the same plate without it: overall, and when the plate already had findings."""
    pairs = make_pairs(n_pairs, EVAL_SEED + 2)
    raised = model.score_batch(pairs["plus"])[0] > model.score_batch(pairs["base"])[0]
    abnormal = pairs["base_y"] == 1
    return {"n_pairs": int(n_pairs), "added_finding_raises_score": float(raised.mean()),
            "added_finding_raises_score_abnormal_base": float(raised[abnormal].mean()) if abnormal.any() else None}


REAL_INJECTIONS = (("nodule", 2), ("nodule", 3), ("opacity", 1))


def real_plate_check(model: ImagingModel) -> dict | None:
    """Scores of the real ``RG1_UNCR.dcm`` chest CR from pydicom-data and of copies with injected
    anomalies; ``None`` when pydicom-data is not installed. A sanity check, not a validation."""
    try:
        from pydicom.data import get_testdata_file

        path = get_testdata_file("RG1_UNCR.dcm")
    except Exception:  # pydicom-data absent or its index unavailable
        return None
    if path is None:
        return None
    from ml.imaging.inject import inject_into_dicom

    raw = Path(path).read_bytes()
    clean = model.score_dicom(raw, heatmap=False)
    injected = {f"{kind}-{seed}": model.score_dicom(inject_into_dicom(raw, kind, seed), heatmap=False).anomaly_score
                for kind, seed in REAL_INJECTIONS}
    return {"clean": clean.anomaly_score, "clean_flagged": clean.flagged, "injected": injected}


def dicom_latency_ms(model: ImagingModel, runs: int) -> dict[str, float]:
    """Time ``score_dicom`` (parse + preprocess + inference) on a full-size 2000×1800 CR-like DICOM."""
    blob = _synthetic_dicom(shape=(2000, 1800))
    model.score_dicom(blob)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.score_dicom(blob)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"latency_ms_p50": float(np.percentile(times, 50)), "latency_ms_p99": float(np.percentile(times, 99))}


def _synthetic_dicom(shape: tuple[int, int]) -> bytes:
    """A generated plate upsampled to ``shape`` and wrapped as a minimal CR DICOM (MONOCHROME1)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from ml.imaging.ops import resize

    case = synth_case(np.random.default_rng(EVAL_SEED + 1), anomalous=False)
    pixels = np.clip(resize(case.pixels.astype(np.float32), shape), 0, 65535).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, case.meta.photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = case.meta.slope, case.meta.intercept
    ds.PixelData = pixels.tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()

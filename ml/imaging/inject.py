"""Inject a synthetic anomaly into a real radiograph and write it back as DICOM.

This is how the pipeline is tested on a real plate: the same anomaly models the network was
trained on (:mod:`ml.imaging.anomalies`) are painted into a lung field of real pixels, and the copy
goes back through pydicom to a DICOM byte stream, so the test covers reading, photometry, rescale,
windowing and scoring end to end. Copies are marked DERIVED with a new SOP Instance UID and an
image comment, so they can never pass for an acquired image.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from ml.imaging.anomalies import paint
from ml.imaging.ops import box_blur, resize

WORK_SIDE = 256


def lung_field_mask(density: np.ndarray) -> tuple[np.ndarray, float]:
    """Soft mask of the lung fields of a PA chest (density: higher = more attenuating) and the
    lung/soft-tissue contrast in the same units.

    A heuristic, not a segmentation: lungs are the darkest 40 % of the central region that have
    brighter body tissue to their left, to their right and above them (which rules out the air
    around the patient), within the central 8–90 % of rows. Computed at ``WORK_SIDE`` px and resampled back to full size.
    """
    h, w = density.shape
    scale = WORK_SIDE / max(h, w)
    small = resize(density, (max(8, round(h * scale)), max(8, round(w * scale))))
    small = box_blur(small, 4)
    rows = np.arange(small.shape[0])[:, None] / small.shape[0]
    cols = np.arange(small.shape[1])[None, :] / small.shape[1]
    central = small[int(0.1 * small.shape[0]):int(0.9 * small.shape[0]), int(0.1 * small.shape[1]):int(0.9 * small.shape[1])]
    dark = small < np.percentile(central, 40)
    bright = small > np.percentile(small, 60)
    left = np.maximum.accumulate(bright, axis=1)
    right = np.maximum.accumulate(bright[:, ::-1], axis=1)[:, ::-1]
    above = np.maximum.accumulate(bright, axis=0)
    lung = dark & left & right & above & (rows > 0.08) & (rows < 0.9) & (cols > 0.05) & (cols < 0.95)
    if lung.sum() < 0.01 * lung.size:
        raise ValueError("no lung field found: is this a PA chest radiograph?")
    unit = float(np.median(small[bright & left & right]) - np.median(small[lung]))
    soft = np.clip(box_blur(lung.astype(np.float32), 3) * 1.5 - 0.25, 0.0, 1.0)
    full = np.clip(resize(soft, (h, w)), 0.0, 1.0)
    return full, max(unit, 1e-6)


def inject_anomaly(pixels: np.ndarray, kind: str, seed: int, *, photometric: str = "MONOCHROME2") -> np.ndarray:
    """Return a copy of stored ``pixels`` with one anomaly of ``kind`` (nodule, opacity, effusion)
    painted into a lung field, reproducibly from ``seed``.

    ``photometric`` says which way density runs: for MONOCHROME1 denser tissue has *lower* stored
    values, so density is subtracted. Integer pixels stay integer (clipped to the dtype's range).
    """
    arr = np.asarray(pixels)
    sign = -1.0 if photometric.upper() == "MONOCHROME1" else 1.0
    density = sign * arr.astype(np.float32)
    lung, unit = lung_field_mask(density)
    added, _ = paint(kind, lung, unit, np.random.default_rng(seed))
    out = sign * (density + added)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        out = np.clip(np.round(out), info.min, info.max)
    return out.astype(arr.dtype)


def dicom_with_pixels(source: bytes | Path, pixels: np.ndarray, comment: str) -> bytes:
    """A DICOM byte stream equal to ``source`` but with ``pixels`` (same shape and dtype), marked derived."""
    ds = pydicom.dcmread(io.BytesIO(source) if isinstance(source, bytes) else source)
    original = ds.pixel_array
    if pixels.shape != original.shape or pixels.dtype != original.dtype:
        raise ValueError(f"pixels {pixels.shape}/{pixels.dtype} do not match {original.shape}/{original.dtype}")
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        raise ValueError("only uncompressed source files can be rewritten")
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.ImageComments = comment
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def inject_into_dicom(source: bytes | Path, kind: str, seed: int) -> bytes:
    """Read a radiograph, inject one anomaly into its real pixels, and return the DICOM copy."""
    ds = pydicom.dcmread(io.BytesIO(source) if isinstance(source, bytes) else source)
    pixels = inject_anomaly(ds.pixel_array, kind, seed, photometric=str(ds.PhotometricInterpretation))
    return dicom_with_pixels(source, pixels, f"synthetic {kind} injected (seed {seed}) for testing")

"""DICOM radiograph → model input, the one path shared by training, evaluation and the runtime.

Every image, real or synthetic, goes through the same steps so the model never sees a
distribution the runtime does not produce:

1. modality transform (Rescale Slope/Intercept, or a Modality LUT when one is present);
2. VOI windowing (the file's first Window Center/Width, else a 0.5–99.5 percentile window);
3. MONOCHROME1 inversion, so that 1.0 always means "most attenuating" (white on a MONOCHROME2 display);
4. area resampling of any size to ``INPUT_SIZE`` × ``INPUT_SIZE``;
5. histogram equalisation to a zero-mean, unit-variance uniform distribution: the input then depends
   only on the *order* of intensities, so exposure, gamma, window and detector response — which differ
   most between synthetic and real plates — cannot move the score.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from ml.imaging.ops import resize

INPUT_SIZE = 128
MIN_SIDE = 32


class InvalidImage(ValueError):
    """The input cannot be scored; ``message`` says why in words a radiology user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PixelMeta:
    """The DICOM attributes that decide how stored values become a displayed image."""

    photometric: str = "MONOCHROME2"
    slope: float = 1.0
    intercept: float = 0.0
    window_center: float | None = None
    window_width: float | None = None


def _first(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return float(value[0]) if len(value) else None
    return float(value)


def check_array(img: np.ndarray) -> np.ndarray:
    """Refuse what cannot be a radiograph: wrong shape, too small, NaN/inf, or no contrast."""
    arr = np.asarray(img)
    if arr.ndim == 3 and 1 in (arr.shape[0], arr.shape[-1]):
        arr = arr.reshape(arr.shape[1:] if arr.shape[0] == 1 else arr.shape[:-1])
    if arr.ndim != 2:
        raise InvalidImage(f"expected a single 2-D grayscale image, got an array of shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) and not np.iscomplexobj(arr)) or arr.dtype == np.bool_:
        raise InvalidImage(f"expected numeric pixel values, got dtype {arr.dtype}")
    if min(arr.shape) < MIN_SIDE:
        raise InvalidImage(f"image {arr.shape[0]}x{arr.shape[1]} is too small (each side must be ≥ {MIN_SIDE})")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise InvalidImage("image contains NaN or infinite pixel values")
    if float(arr.max()) == float(arr.min()):
        raise InvalidImage("image has no contrast (every pixel has the same value)")
    return arr


def to_display(pixels: np.ndarray, meta: PixelMeta = PixelMeta()) -> np.ndarray:
    """Stored values → float image in [0, 1], 1 = most attenuating, whatever the photometry."""
    arr = check_array(pixels)
    values = arr * np.float32(meta.slope) + np.float32(meta.intercept)
    center, width = meta.window_center, meta.window_width
    if center is None or width is None or width <= 1:
        step = max(1, int(np.sqrt(values.size / 250_000)))  # percentiles of a large plate from a subsample
        lo, hi = np.percentile(values[::step, ::step], [0.5, 99.5])
        if hi <= lo:
            lo, hi = float(values.min()), float(values.max())
        out = (values - lo) / np.float32(hi - lo)
    else:
        # DICOM PS3.3 C.11.2.1.2.1 linear window.
        out = (values - np.float32(center - 0.5)) / np.float32(width - 1) + np.float32(0.5)
    out = np.clip(out, 0.0, 1.0)
    if meta.photometric.upper() == "MONOCHROME1":
        out = 1.0 - out
    return out.astype(np.float32, copy=False)


def to_model_input(display: np.ndarray) -> np.ndarray:
    """Display image of any size → equalised ``(1, 1, INPUT_SIZE, INPUT_SIZE)`` float32 tensor."""
    small = resize(check_array(display), (INPUT_SIZE, INPUT_SIZE))
    if float(small.std()) < 1e-6:
        raise InvalidImage("image has no contrast after windowing (window excludes every pixel value)")
    flat = small.ravel()
    ranks = np.empty(flat.size, dtype=np.float32)
    ranks[np.argsort(flat, kind="stable")] = np.arange(flat.size, dtype=np.float32)
    _, inverse = np.unique(flat, return_inverse=True)  # equal values share their mean rank
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / np.bincount(inverse))[inverse]
    quantile = (ranks + 0.5) / flat.size
    return ((quantile - 0.5) * np.sqrt(12.0)).astype(np.float32).reshape(1, 1, INPUT_SIZE, INPUT_SIZE)


def read_dicom(data: bytes | bytearray | Path | str | BinaryIO) -> tuple[np.ndarray, PixelMeta]:
    """Parse a DICOM file and return its stored pixels with the attributes needed to display them."""
    source = io.BytesIO(bytes(data)) if isinstance(data, bytes | bytearray) else data
    try:
        ds = pydicom.dcmread(source)
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidImage(f"not a readable DICOM file: {exc}") from exc
    if "PixelData" not in ds:
        raise InvalidImage("DICOM file has no pixel data")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise InvalidImage(f"expected a grayscale radiograph, got {ds.get('PhotometricInterpretation')}")
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper() not in ("MONOCHROME1", "MONOCHROME2"):
        raise InvalidImage(f"expected MONOCHROME1/2 pixels, got {ds.get('PhotometricInterpretation')}")
    if int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise InvalidImage("expected a single-frame radiograph, got a multi-frame object")
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for corrupt or unsupported pixel data
        raise InvalidImage(f"DICOM pixel data cannot be decoded: {exc}") from exc
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        pixels = apply_modality_lut(pixels, ds)
        slope, intercept = 1.0, 0.0
    else:
        slope = _first(ds.get("RescaleSlope")) or 1.0
        intercept = _first(ds.get("RescaleIntercept")) or 0.0
    meta = PixelMeta(
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
        slope=slope,
        intercept=intercept,
        window_center=_first(ds.get("WindowCenter")),
        window_width=_first(ds.get("WindowWidth")),
    )
    return pixels, meta

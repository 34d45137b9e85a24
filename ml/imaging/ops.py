"""Small numpy image operations shared by preprocessing, the generator and anomaly injection.

Kept numpy-only so the runtime needs nothing beyond numpy, pydicom and onnxruntime (no scipy,
no OpenCV): radiographs arrive at any size, so resampling must be exact enough for a 1955×1841
CR plate and cheap enough to stay well inside the per-image latency budget.
"""
from __future__ import annotations

import numpy as np


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Rows hold the fractional overlap of each output cell with the input cells (rows sum to 1)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Linear-interpolation weights, pixel centres aligned (used when enlarging)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1)
    left = np.floor(pos).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    frac = (pos - left).astype(np.float32)
    m = np.zeros((n_out, n_in), dtype=np.float32)
    m[np.arange(n_out), left] += 1.0 - frac
    m[np.arange(n_out), right] += frac
    return m


def _axis_matrix(n_in: int, n_out: int) -> np.ndarray:
    return _area_matrix(n_in, n_out) if n_out <= n_in else _interp_matrix(n_in, n_out)


def resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample a 2-D image to ``shape``: area averaging when shrinking, linear when enlarging.

    Large plates are first block-averaged by an integer factor (a reshape, memory-bound) so the
    exact area matrices stay small; the few edge pixels that do not fill a block are dropped.
    """
    out_h, out_w = shape
    x = np.asarray(img, dtype=np.float32)
    fy, fx = max(1, x.shape[0] // (2 * out_h)), max(1, x.shape[1] // (2 * out_w))
    if fy > 1 or fx > 1:
        h, w = (x.shape[0] // fy) * fy, (x.shape[1] // fx) * fx
        x = x[:h, :w].reshape(h // fy, fy, w // fx, fx).mean(axis=(1, 3), dtype=np.float32)
    return _axis_matrix(x.shape[0], out_h) @ x @ _axis_matrix(x.shape[1], out_w).T


def box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    """Separable box blur with edge replication (cumulative sums: cost independent of radius)."""
    if radius < 1:
        return np.asarray(img, dtype=np.float32)
    out = np.asarray(img, dtype=np.float32)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
        hi = np.take(c, np.arange(2 * radius + 1, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - 2 * radius - 1), axis=axis)
        out = ((hi - lo) / (2 * radius + 1)).astype(np.float32)
    return out


def smooth_noise(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std smooth noise: a coarse random grid upsampled to ``shape``.

    ``cells`` is the number of independent values across the shorter side, i.e. the texture scale.
    """
    h, w = shape
    gh = max(2, round(cells * h / min(h, w)))
    gw = max(2, round(cells * w / min(h, w)))
    coarse = box_blur(rng.standard_normal((gh + 2, gw + 2)).astype(np.float32), 1)[1:-1, 1:-1]
    up = _interp_matrix(gh, h) @ coarse @ _interp_matrix(gw, w).T
    return (up - up.mean()) / (up.std() + 1e-6)


def grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates: y in [0, 1] down the image, x in [0, 1] across it."""
    h, w = shape
    yy = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    xx = ((np.arange(w, dtype=np.float32) + 0.5) / w)[None, :]
    return yy, xx

"""Preprocessing: photometry, rescale, windowing and resampling of any size to the model input."""
from __future__ import annotations

import numpy as np
import pytest

from ml.imaging.ops import resize, smooth_noise
from ml.imaging.preprocess import INPUT_SIZE, PixelMeta, read_dicom, to_display, to_model_input


def _ramp(h: int = 64, w: int = 80) -> np.ndarray:
    return np.tile(np.arange(w, dtype=np.uint16) * 100 + 500, (h, 1))


def test_monochrome1_is_the_inverse_of_monochrome2() -> None:
    px = _ramp()
    m2 = to_display(px, PixelMeta("MONOCHROME2"))
    m1 = to_display(px, PixelMeta("MONOCHROME1"))
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-6)
    assert m2[0, 0] < m2[0, -1]  # high stored value = dense = bright for MONOCHROME2
    assert m1[0, 0] > m1[0, -1]  # and dark for MONOCHROME1


def test_rescale_slope_and_intercept_apply_before_the_window() -> None:
    px = _ramp()
    meta = PixelMeta(slope=2.0, intercept=-1000.0, window_center=3000.0, window_width=4001.0)
    direct = to_display(px.astype(np.float32) * 2.0 - 1000.0, PixelMeta(window_center=3000.0, window_width=4001.0))
    np.testing.assert_allclose(to_display(px, meta), direct, atol=1e-6)
    # stored 2000 → value 3000 = the window centre → mid grey
    assert to_display(np.array([[2000] * 40] * 39 + [[0] * 40], dtype=np.uint16), meta)[0, 0] == pytest.approx(0.5, abs=1e-3)


def test_window_clips_outside_values_and_is_linear_inside() -> None:
    values = np.tile(np.linspace(0, 1000, 101, dtype=np.float32), (40, 1))
    out = to_display(values, PixelMeta(window_center=500.0, window_width=201.0))
    assert out[0, values[0] <= 399].max() == 0.0 and out[0, values[0] >= 601].min() == 1.0
    inside = (values[0] > 420) & (values[0] < 580)
    np.testing.assert_allclose(np.diff(out[0, inside]), np.diff(out[0, inside]).mean(), atol=1e-5)


def test_no_window_uses_percentiles_so_outliers_do_not_flatten_the_image() -> None:
    px = _ramp().astype(np.float32)
    px[0, 0] = 1e6  # one hot pixel
    out = to_display(px, PixelMeta())
    assert 0.3 < float(np.median(out)) < 0.7


@pytest.mark.parametrize("shape", [(32, 32), (33, 1000), (128, 128), (2001, 1555), (1955, 1841)])
def test_any_size_becomes_a_standardised_model_input(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    x = to_model_input(rng.random(shape, dtype=np.float32))
    assert x.shape == (1, 1, INPUT_SIZE, INPUT_SIZE) and x.dtype == np.float32
    assert abs(float(x.mean())) < 1e-4 and float(x.std()) == pytest.approx(1.0, abs=1e-3)


def test_area_resampling_keeps_geometry_and_level() -> None:
    img = np.zeros((1000, 777), dtype=np.float32)
    img[:, 389:] = 1.0  # right half bright
    small = resize(img, (128, 128))
    assert small[:, :60].max() < 1e-6 and small[:, 68:].min() > 1 - 1e-6
    assert float(small.mean()) == pytest.approx(float(img.mean()), abs=0.01)
    assert resize(np.ones((50, 60)), (128, 128)) == pytest.approx(1.0)


def test_dicom_attributes_reach_the_display(dicom_factory) -> None:
    px = _ramp()
    blob = dicom_factory(px, "MONOCHROME1", RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=3000, WindowWidth=4001)
    pixels, meta = read_dicom(blob)
    assert meta == PixelMeta("MONOCHROME1", 2.0, -1000.0, 3000.0, 4001.0)
    np.testing.assert_array_equal(pixels, px)


def test_real_radiograph_is_read_and_inverted(rg1_path) -> None:
    pixels, meta = read_dicom(rg1_path)
    assert pixels.shape == (1955, 1841) and meta.photometric == "MONOCHROME1"
    display = to_display(pixels, meta)
    h, w = display.shape
    lung = display[int(0.3 * h):int(0.45 * h), int(0.2 * w):int(0.3 * w)].mean()
    spine = display[int(0.3 * h):int(0.45 * h), int(0.48 * w):int(0.52 * w)].mean()
    assert spine > lung + 0.1  # after inversion the mediastinum is brighter than the aerated lung


def test_model_input_ignores_exposure_and_gamma_but_not_structure() -> None:
    img = smooth_noise((300, 280), 12, np.random.default_rng(2)) + 5.0
    base = to_model_input(img)
    gain = to_model_input(3.0 * img + 50.0)  # exposure/gain: equal up to float rounding of near-ties
    assert np.abs(gain - base).max() < 0.01 and np.abs(gain - base).mean() < 1e-3
    gamma = to_model_input(img**1.7)  # gamma: only up to the resampling of a smooth image
    assert np.corrcoef(gamma.ravel(), base.ravel())[0, 1] > 0.999
    brighter = img.copy()
    brighter[100:140, 100:140] += 0.8  # a dense lesion moves the input where it is
    diff = np.abs(to_model_input(brighter) - base)[0, 0]
    assert diff[45:60, 45:60].mean() > 10 * diff[:30, :30].mean()

"""The generator is seeded and covers what it promises; the metrics agree with hand-worked cases."""
from __future__ import annotations

import numpy as np
import pytest

from ml.imaging.metrics import auroc, operating_point, threshold_for_sensitivity
from ml.imaging.ops import resize
from ml.imaging.pairs import make_pairs, synth_pair
from ml.imaging.synth import make_dataset, synth_case


def test_generator_is_reproducible_and_seed_dependent() -> None:
    a, b = make_dataset(6, seed=11), make_dataset(6, seed=11)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.array_equal(a["x"], make_dataset(6, seed=12)["x"])


def test_generator_covers_kinds_photometry_sizes_and_windows() -> None:
    rng = np.random.default_rng(3)
    cases = [synth_case(rng, anomalous=i % 2 == 1) for i in range(60)]
    assert {c.meta.photometric for c in cases} == {"MONOCHROME1", "MONOCHROME2"}
    assert {c.kind for c in cases if c.label} == {"nodule", "opacity", "effusion"}
    assert len({c.pixels.shape for c in cases}) > 20
    assert any(c.meta.window_width for c in cases) and any(c.meta.window_width is None for c in cases)
    assert all(c.mask.any() == bool(c.label) for c in cases)


def test_dataset_masks_mark_anomalies_only() -> None:
    d = make_dataset(40, seed=5)
    assert d["x"].shape == (40, 1, 128, 128) and d["mask"].shape == (40, 16, 16)
    assert (d["mask"][d["y"] == 0] == 0).all() and (d["mask"][d["y"] == 1].sum(axis=(1, 2)) > 0).all()


def test_auroc_on_hand_worked_cases() -> None:
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auroc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert auroc([0, 1], [0.5, 0.5]) == 0.5
    assert auroc([0, 0, 1, 1], [0.1, 0.3, 0.2, 0.4]) == 0.75
    with pytest.raises(ValueError):
        auroc([1, 1], [0.1, 0.2])


def test_threshold_reaches_the_target_sensitivity() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + 1.5 * y
    t = threshold_for_sensitivity(y, s, 0.95)
    point = operating_point(y, s, t)
    assert point["sensitivity"] >= 0.95
    assert operating_point(y, s, np.nextafter(t, np.inf))["sensitivity"] < 0.95  # highest such threshold
    assert 0.0 < point["specificity"] < 1.0


def test_abnormal_plates_can_carry_several_findings() -> None:
    rng = np.random.default_rng(4)
    cases = [synth_case(rng, anomalous=True) for _ in range(40)]
    assert len({c.kind for c in cases}) == 3
    regions = [int((resize(c.mask.astype(np.float32), (16, 16)) > 0.05).sum()) for c in cases]
    assert max(regions) > 2 * np.median(regions)  # some plates carry far more finding than others


def test_a_pair_is_one_plate_with_and_without_one_more_finding() -> None:
    rng = np.random.default_rng(9)
    for _ in range(6):
        base, plus = synth_pair(rng)
        assert plus.label == 1 and base.label == int(base.mask.any())
        assert (base.meta.photometric, base.meta.slope) == (plus.meta.photometric, plus.meta.slope)
        assert base.pixels.shape == plus.pixels.shape and (plus.mask >= base.mask).all()
        new = plus.mask & ~base.mask
        assert new.any()
        diff = np.abs(plus.pixels.astype(np.float64) - base.pixels)
        assert diff[new].mean() > 10 * diff[~plus.mask].mean()  # same plate, changed where the finding is
    d = make_pairs(5, seed=3)
    assert d["base"].shape == d["plus"].shape == (5, 1, 128, 128) and set(d["base_y"]) <= {0, 1}
    np.testing.assert_array_equal(d["plus"], make_pairs(5, seed=3)["plus"])

"""The whole pipeline on the real pydicom-data chest radiograph, and on copies with injected anomalies."""
from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from ml.imaging.evaluate import REAL_INJECTIONS
from ml.imaging.inject import inject_anomaly, inject_into_dicom, lung_field_mask
from ml.imaging.ops import resize
from ml.imaging.preprocess import read_dicom
from ml.imaging.runtime import ImagingModel, ImagingScore


@pytest.fixture(scope="module")
def clean_score(imaging_model: ImagingModel, rg1_bytes: bytes) -> ImagingScore:
    return imaging_model.score_dicom(rg1_bytes)


def test_real_radiograph_scores_as_decision_support(clean_score: ImagingScore, imaging_model: ImagingModel) -> None:
    assert 0.0 <= clean_score.anomaly_score <= 1.0
    assert clean_score.flagged == (clean_score.anomaly_score >= clean_score.threshold)
    assert clean_score.threshold == imaging_model.threshold
    assert clean_score.model_version.startswith("imaging-prescreen-")
    assert clean_score.note == "decision support, not diagnosis"
    heat = np.array(clean_score.heatmap)
    assert heat.shape == (16, 16) and heat.min() >= 0.0 and heat.max() <= 1.0


def test_bytes_path_and_file_object_give_the_same_score(imaging_model, rg1_path, rg1_bytes, clean_score) -> None:
    assert imaging_model.score_dicom(rg1_path).anomaly_score == clean_score.anomaly_score
    assert imaging_model.score_dicom(io.BytesIO(rg1_bytes)).anomaly_score == clean_score.anomaly_score


# RG1_UNCR is not a normal chest (it shows several round opacities in both lungs), so the clean plate
# is rightly flagged; what must hold is that a lesion injected into it raises the score further.
# Known gap (model card): the large injected opacity lies over lung the model already calls abnormal
# and lowers the score a little. Strict: once a model passes, this marker must go.
_OPACITY_GAP = pytest.mark.xfail(strict=True, reason="opacity over already-abnormal lung (model card, real plate)")


@pytest.mark.parametrize(("kind", "seed"), [
    pytest.param(kind, seed, marks=_OPACITY_GAP) if kind == "opacity" else (kind, seed)
    for kind, seed in REAL_INJECTIONS
])
def test_injected_copy_scores_higher_than_the_clean_plate(
    imaging_model: ImagingModel, rg1_bytes: bytes, clean_score: ImagingScore, kind: str, seed: int
) -> None:
    injected = imaging_model.score_dicom(inject_into_dicom(rg1_bytes, kind, seed))
    assert injected.anomaly_score > clean_score.anomaly_score


@pytest.mark.parametrize("seed", [2, 3])
def test_injected_nodule_lights_up_the_heatmap_where_it_was_put(
    imaging_model: ImagingModel, rg1_bytes: bytes, clean_score: ImagingScore, seed: int
) -> None:
    blob = inject_into_dicom(rg1_bytes, "nodule", seed)
    changed = pydicom.dcmread(io.BytesIO(blob)).pixel_array != pydicom.dcmread(io.BytesIO(rg1_bytes)).pixel_array
    site = resize(changed.astype(np.float32), (16, 16)) > 0.1
    before, after = np.array(clean_score.heatmap), np.array(imaging_model.score_dicom(blob).heatmap)
    # The lesion's own cells heat up (their mean, since a site next to a finding can start near 1) ...
    assert after[site].mean() > before[site].mean() + 0.1 and after[site].max() > 0.5
    assert abs(after[~site].mean() - before[~site].mean()) < 0.05  # and the rest of the map barely moves


def test_injected_copy_is_a_marked_derived_dicom(rg1_bytes: bytes) -> None:
    blob = inject_into_dicom(rg1_bytes, "nodule", 3)
    original, copy = pydicom.dcmread(io.BytesIO(rg1_bytes)), pydicom.dcmread(io.BytesIO(blob))
    assert copy.SOPInstanceUID != original.SOPInstanceUID
    assert list(copy.ImageType)[0] == "DERIVED" and "synthetic nodule" in copy.ImageComments
    assert copy.PhotometricInterpretation == "MONOCHROME1" and copy.pixel_array.dtype == original.pixel_array.dtype


def test_injection_is_local_dense_and_inside_the_lung_field(rg1_path) -> None:
    pixels, meta = read_dicom(rg1_path)
    out = inject_anomaly(pixels, "nodule", 3, photometric=meta.photometric)
    changed = out != pixels
    assert 0 < changed.mean() < 0.02  # a lesion, not a global change
    assert (out[changed].astype(np.int64) < pixels[changed]).all()  # denser = lower value in MONOCHROME1
    lung, _ = lung_field_mask(-pixels.astype(np.float32))
    assert lung[changed].mean() > 0.5
    np.testing.assert_array_equal(out, inject_anomaly(pixels, "nodule", 3, photometric=meta.photometric))
    assert not np.array_equal(out, inject_anomaly(pixels, "nodule", 4, photometric=meta.photometric))


def test_every_kind_can_be_injected_and_unknown_kinds_are_refused(rg1_path) -> None:
    pixels, meta = read_dicom(rg1_path)
    for kind in ("nodule", "opacity", "effusion"):
        assert (inject_anomaly(pixels, kind, 0, photometric=meta.photometric) != pixels).any()
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        inject_anomaly(pixels, "fracture", 0, photometric=meta.photometric)

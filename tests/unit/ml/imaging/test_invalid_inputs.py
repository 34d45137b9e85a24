"""Bad inputs are refused with InvalidImage and a message that says what is wrong."""
from __future__ import annotations

import numpy as np
import pytest

from ml.imaging.runtime import ImagingModel, InvalidImage


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a dicom file", "not a readable DICOM"),
        (b"", "not a readable DICOM"),
    ],
)
def test_non_dicom_bytes_are_refused(imaging_model: ImagingModel, data: bytes, message: str) -> None:
    with pytest.raises(InvalidImage, match=message):
        imaging_model.score_dicom(data)


def test_dicom_without_pixel_data_is_refused(imaging_model: ImagingModel, dicom_factory) -> None:
    with pytest.raises(InvalidImage, match="no pixel data"):
        imaging_model.score_dicom(dicom_factory(None))


def test_colour_dicom_is_refused(imaging_model: ImagingModel, dicom_factory) -> None:
    blob = dicom_factory(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64), "PALETTE COLOR")
    with pytest.raises(InvalidImage, match="MONOCHROME"):
        imaging_model.score_dicom(blob)


def test_missing_file_is_refused(imaging_model: ImagingModel, tmp_path) -> None:
    with pytest.raises(InvalidImage, match="not a readable DICOM"):
        imaging_model.score_dicom(tmp_path / "absent.dcm")


@pytest.mark.parametrize(
    ("img", "message"),
    [
        (np.zeros((64, 64, 3)), "2-D grayscale"),
        (np.zeros(4096), "2-D grayscale"),
        (np.ones((2, 64, 64)), "2-D grayscale"),
        (np.ones((16, 512)), "too small"),
        (np.full((64, 64), 7.0), "no contrast"),
        (np.array([["a"] * 64] * 64), "numeric"),
    ],
)
def test_wrong_shapes_and_types_are_refused(imaging_model: ImagingModel, img: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidImage, match=message):
        imaging_model.score_array(img)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(imaging_model: ImagingModel, bad: float) -> None:
    img = np.random.default_rng(0).random((100, 100))
    img[50, 50] = bad
    with pytest.raises(InvalidImage, match="NaN or infinite") as info:
        imaging_model.score_array(img)
    assert info.value.message == str(info.value)


def test_a_single_channel_axis_is_accepted(imaging_model: ImagingModel) -> None:
    img = np.random.default_rng(1).random((100, 90))
    assert imaging_model.score_array(img[None]).anomaly_score == imaging_model.score_array(img).anomaly_score

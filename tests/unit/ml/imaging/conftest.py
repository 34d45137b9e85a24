"""Fixtures for the imaging pre-screen tests: the shipped model and the real pydicom-data radiograph."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

import ml.imaging
from ml.imaging.runtime import ImagingModel

MODELS_DIR = Path(ml.imaging.__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="session")
def imaging_dir() -> Path:
    return MODELS_DIR


@pytest.fixture(scope="session")
def imaging_model() -> ImagingModel:
    return ImagingModel.load(MODELS_DIR)


@pytest.fixture(scope="session")
def rg1_path() -> Path:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("RG1_UNCR.dcm"))


@pytest.fixture(scope="session")
def rg1_bytes(rg1_path: Path) -> bytes:
    return rg1_path.read_bytes()


def make_dicom(pixels: np.ndarray | None, photometric: str = "MONOCHROME2", **attrs: object) -> bytes:
    """A minimal single-frame CR DICOM byte stream (``pixels=None`` leaves out Pixel Data)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    if pixels is not None:
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="session")
def dicom_factory():
    """``make_dicom`` as a fixture (importlib mode cannot import conftest as a module)."""
    return make_dicom

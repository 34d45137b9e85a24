"""The imaging catalogue, pinned: each LOINC order code (OBR-4) becomes the modality and body site checked
against the published LOINC and SNOMED CT names, so a changed code is a deliberate, reviewed change."""
from __future__ import annotations

import pytest

from api.hl7.orders import IMAGING_CATALOGUE
from api.hl7.parse import parse
from tests.unit.hl7.samples import orm

KEY = bytes(range(32))

#: LOINC code → (DICOM modality, SNOMED CT body site), as verified against the published names.
VERIFIED = {
    "36643-5": ("CR", "51185008"),   # XR Chest 2 Views → Thoracic structure
    "24648-8": ("CR", "51185008"),   # XR Chest PA upright → Thoracic structure
    "24627-2": ("CT", "51185008"),   # CT Chest → Thoracic structure
    "24725-4": ("CT", "69536005"),   # CT Head → Head structure
    "24590-2": ("MR", "12738006"),   # MR Brain → Brain structure
    "24558-9": ("US", "818983003"),  # US Abdomen → Abdomen
    "24606-6": ("MG", "76752008"),   # MG Breast Screening → Breast structure
}


def test_the_catalogue_holds_exactly_the_verified_codes() -> None:
    assert IMAGING_CATALOGUE == VERIFIED


@pytest.mark.parametrize("code", sorted(VERIFIED))
def test_an_order_for_each_code_asks_for_its_modality_and_body_site(code: str) -> None:
    text = orm().replace("36643-5^XR Chest 2 views^LN", f"{code}^imaging^LN")
    _, msg = parse(text.encode(), KEY)
    modality, body_site = VERIFIED[code]
    assert (msg.order_kind, msg.order_code) == ("imaging", code)
    assert (msg.order_payload["modality"], msg.order_payload["body_site"]) == (modality, body_site)


def test_the_superseded_abdomen_concept_is_no_longer_sent() -> None:
    assert "113345001" not in {site for _, site in IMAGING_CATALOGUE.values()}

"""The shipped tariff and the pricing rules derived from it."""
from __future__ import annotations

from decimal import Decimal

import pytest

from activities.billing_tariff import UnknownTariffCode, bed_day_code, bed_days, load_tariff, parse_tariff


def test_shipped_tariff_prices_every_billable_event_kind() -> None:
    tariff = load_tariff()
    assert tariff.currency == "INR"
    for code in ("BED-DAY-GENERAL", "BED-DAY-ICU", "IMG-XR", "IMG-CT", "IMG-MR", "RX-DISPENSE", "PROC-MINOR"):
        item = tariff.item(code)
        assert item.unit_price > 0 and item.description and item.currency == "INR"


def test_prices_are_exact_decimals() -> None:
    tariff = load_tariff()
    assert tariff.price("RX-DISPENSE", 3) == Decimal("106.50")
    # Ten dispenses of 35.50 are exactly 355.00 (no binary floating point drift).
    assert sum((tariff.price("RX-DISPENSE", 1) for _ in range(10)), Decimal(0)) == Decimal("355.00")


def test_unknown_code_is_refused() -> None:
    with pytest.raises(UnknownTariffCode):
        load_tariff().price("NOT-A-CODE", 1)


@pytest.mark.parametrize("items, message", [
    ([{"code": "A", "description": "a", "unit_price": "1.00"}, {"code": "A", "description": "b", "unit_price": "2"}],
     "twice"),
    ([{"code": "A", "description": "a", "unit_price": "1.005"}], "two decimals"),
    ([{"code": "A", "description": "a", "unit_price": "0"}], "positive"),
])
def test_malformed_tariff_is_rejected(items: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tariff({"currency": "INR", "items": items})


@pytest.mark.parametrize("seconds, days", [(0, 1), (3600, 1), (86400, 1), (86401, 2), (3 * 86400, 3),
                                           (-5, 1)])
def test_bed_days_count_started_days(seconds: int, days: int) -> None:
    assert bed_days(seconds) == days


def test_bed_day_code_keeps_the_ward_out_of_the_bill() -> None:
    assert bed_day_code("icu") == "BED-DAY-ICU"
    assert {bed_day_code(w) for w in ("medical", "surgical", "psychiatry", "emergency")} == {"BED-DAY-GENERAL"}

"""Payment amounts as the billing clerk's task accepts them: exact to the cent, never a float guess."""
from __future__ import annotations

from decimal import Decimal

import pytest

from workflows.billing import _amount


@pytest.mark.parametrize("raw, expected", [("3056.50", Decimal("3056.50")), (12, Decimal("12.00")),
                                           (0.1, Decimal("0.10")), ("1e3", Decimal("1000.00"))])
def test_amounts_accepted(raw: object, expected: Decimal) -> None:
    assert _amount(raw) == expected


@pytest.mark.parametrize("raw", ["10.001", "abc", "NaN", "Infinity", True, None, [], {"v": 1}, ""])
def test_amounts_refused(raw: object) -> None:
    assert _amount(raw) is None

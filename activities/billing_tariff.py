"""The tariff shipped with the project: every charge is priced from it, never by the caller.

Prices are exact decimals (two places) so an invoice total is the exact sum of its
charges; floating point never touches money.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

TARIFF_PATH = Path(__file__).with_name("billing_tariff.json")
CENTS = Decimal("0.01")

#: Wards billed at the intensive-care rate; every other ward is a general bed-day.
ICU_WARDS = frozenset({"icu"})


class UnknownTariffCode(KeyError):
    """A charge named a code the tariff does not price."""


@dataclass(frozen=True)
class TariffItem:
    code: str
    description: str
    unit_price: Decimal
    currency: str


@dataclass(frozen=True)
class Tariff:
    version: str
    currency: str
    items: dict[str, TariffItem]

    def item(self, code: str) -> TariffItem:
        try:
            return self.items[code]
        except KeyError:
            raise UnknownTariffCode(code) from None

    def price(self, code: str, quantity: int) -> Decimal:
        """Unit price × quantity, exact to the cent."""
        return (self.item(code).unit_price * quantity).quantize(CENTS)


def parse_tariff(document: dict) -> Tariff:
    """Validate a tariff document: unique codes, positive two-place prices, one currency."""
    currency = str(document["currency"])
    items: dict[str, TariffItem] = {}
    for raw in document["items"]:
        code = str(raw["code"])
        price = Decimal(str(raw["unit_price"]))
        if code in items:
            raise ValueError(f"tariff code {code} appears twice")
        if price <= 0 or price != price.quantize(CENTS):
            raise ValueError(f"tariff code {code}: unit_price must be positive with at most two decimals")
        items[code] = TariffItem(code=code, description=str(raw["description"]), unit_price=price,
                                 currency=currency)
    return Tariff(version=str(document.get("version", "")), currency=currency, items=items)


@lru_cache(maxsize=1)
def load_tariff(path: Path = TARIFF_PATH) -> Tariff:
    return parse_tariff(json.loads(path.read_text()))


def bed_day_code(ward: str) -> str:
    """ICU stays are billed at the ICU rate; the ward otherwise stays out of the bill (no PSY hint)."""
    return "BED-DAY-ICU" if ward in ICU_WARDS else "BED-DAY-GENERAL"


def bed_days(seconds: float) -> int:
    """Started 24-hour periods of the stay, at least one (a same-day stay is one bed-day)."""
    whole, rest = divmod(max(0, int(seconds)), 86400)
    return max(1, whole + (1 if rest else 0))

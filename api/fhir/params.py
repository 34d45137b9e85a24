"""Search parameters: parsed once, typed, with 400s that say what is wrong.

Dates take the FHIR prefixes ``eq ne lt gt le ge`` (``sa``/``eb`` read as ``gt``/``lt``) on a
year, month, day or instant; each value is the range its precision names, and repeated
parameters are ANDed. Tokens are ``system|code``, ``|code`` or ``code``; commas OR them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from api.fhir.errors import FhirError

PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb")
#: Parameters every type takes (paging, sorting, inclusion, format).
CONTROL = {"_count", "_offset", "_sort", "_include", "_format", "_pretty", "_total", "_summary"}
MAX_COUNT, DEFAULT_COUNT = 500, 50
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class DateFilter:
    """The intersection of the date values: [since, until) minus the ``ne`` ranges."""

    since: datetime | None = None
    until: datetime | None = None
    excluded: tuple[tuple[datetime, datetime], ...] = ()

    def matches(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if self.since is not None and moment < self.since:
            return False
        if self.until is not None and moment >= self.until:
            return False
        return not any(lo <= moment < hi for lo, hi in self.excluded)


def _add_months(start: datetime, months: int) -> datetime:
    years, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + years, month=month + 1)


def date_range(value: str, name: str = "date") -> tuple[datetime, datetime]:
    """The [start, end) a FHIR date or dateTime denotes at its precision (no zone means UTC)."""
    if not _DATE.match(value):
        raise FhirError(400, f"{name}: {value!r} is not a FHIR date or dateTime")
    try:
        if len(value) == 4:
            start = datetime(int(value), 1, 1, tzinfo=UTC)
            return start, start.replace(year=start.year + 1)
        if len(value) == 7:
            start = datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=UTC)
            return start, _add_months(start, 1)
        if len(value) == 10:
            start = datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
            return start, start + timedelta(days=1)
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        clock = re.split(r"[Z+-]", value[11:], maxsplit=1)[0]  # the precision is the clock's, not the zone's
        step = timedelta(microseconds=1) if "." in clock else timedelta(seconds=1) if clock.count(":") >= 2 \
            else timedelta(minutes=1)
        return start, start + step
    except (ValueError, OverflowError):  # OverflowError: the range would end past year 9999
        raise FhirError(400, f"{name}: {value!r} is not a valid date") from None


def date_filter(values: list[str], name: str = "date") -> DateFilter:
    since: datetime | None = None
    until: datetime | None = None
    excluded: list[tuple[datetime, datetime]] = []
    for raw in values:
        if "," in raw:
            raise FhirError(400, f"{name}: comma-separated (OR) dates are not supported; repeat the parameter")
        prefix, value = (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)
        start, end = date_range(value, name)
        lower = {"ge": start, "gt": end, "sa": end, "eq": start}.get(prefix)
        upper = {"lt": start, "eb": start, "le": end, "eq": end}.get(prefix)
        if prefix == "ne":
            excluded.append((start, end))
        if lower is not None and (since is None or lower > since):
            since = lower
        if upper is not None and (until is None or upper < until):
            until = upper
    return DateFilter(since, until, tuple(excluded))


def token_values(raw: str, name: str) -> list[str]:
    """Comma-separated (OR) tokens, each ``system|code``, ``|code`` or ``code``, as matching tokens."""
    out = []
    for part in raw.split(","):
        if not part or part == "|":
            raise FhirError(400, f"{name}: empty token")
        out.append(part[1:] if part.startswith("|") else part)
    return out


def reference_id(raw: str, rtype: str, name: str) -> str:
    """The id a reference parameter names: ``<id>``, ``Type/<id>`` or an absolute URL ending so."""
    parts = raw.rstrip("/").split("/")
    if len(parts) >= 2:
        if parts[-2] != rtype:
            raise FhirError(400, f"{name}: must reference a {rtype}, got {raw!r}")
        ident = parts[-1]
    else:
        ident = raw
    if not _ID.match(ident):
        raise FhirError(400, f"{name}: {ident!r} is not a FHIR id")
    return ident


def valid_id(value: str) -> bool:
    return bool(_ID.match(value))


def integer(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise FhirError(400, f"{name}: not an integer: {raw!r}") from None
    if not low <= number <= high:
        raise FhirError(400, f"{name}: must be between {low} and {high}")
    return number


@dataclass
class SearchQuery:
    """A parsed search: typed filters by parameter name, plus paging, sorting and inclusion."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    modifiers: dict[str, str] = field(default_factory=dict)
    count: int = DEFAULT_COUNT
    offset: int = 0
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (param, descending)
    include: list[tuple[str, str]] = field(default_factory=list)  # (source type, param)

    def first(self, name: str) -> str | None:
        values = self.filters.get(name)
        return values[0] if values else None

    def dates(self, name: str = "date") -> DateFilter | None:
        return date_filter(self.filters[name], name) if name in self.filters else None


def parse_search(rtype: str, items: list[tuple[str, str]], supported: dict[str, str],
                 sortable: set[str], includes: set[str]) -> SearchQuery:
    """Parse query items for ``rtype``; unknown parameters, modifiers or values are a 400.

    ``supported`` maps parameter name → type (``token``, ``date``, ``reference``, ``string``).
    """
    q = SearchQuery()
    for key, value in items:
        name, _, modifier = key.partition(":")
        if name in CONTROL:
            _control(q, rtype, name, value, sortable, includes)
            continue
        ptype = supported.get(name)
        if ptype is None:
            raise FhirError(400, f"unsupported search parameter for {rtype}: {key}"
                                 f" (supported: {', '.join(sorted(supported))})")
        if modifier and not (ptype == "string" and modifier in ("exact", "contains")):
            raise FhirError(400, f"{key}: unsupported modifier :{modifier}")
        if value == "" or len(value) > 500:
            raise FhirError(400, f"{key}: a value of 1 to 500 characters is required")
        if ptype == "date":
            date_filter([value], name)  # validate now
        if ptype == "reference":
            for part in value.split(","):
                reference_id(part, ref_target(name), name)
        if modifier:
            q.modifiers[name] = modifier
        q.filters.setdefault(name, []).append(value)
    return q


_REF_TARGET = {"patient": "Patient", "subject": "Patient", "encounter": "Encounter", "beneficiary": "Patient"}


def ref_target(name: str) -> str:
    return _REF_TARGET.get(name, "Patient")


def _control(q: SearchQuery, rtype: str, name: str, value: str, sortable: set[str], includes: set[str]) -> None:
    if name == "_count":
        q.count = integer(value, "_count", DEFAULT_COUNT, 0, MAX_COUNT)
    elif name == "_offset":
        q.offset = integer(value, "_offset", 0, 0, 10**7)
    elif name == "_sort":
        for part in value.split(","):
            key = part.lstrip("-")
            if key not in sortable:
                raise FhirError(400, f"_sort: cannot sort {rtype} by {key!r} (by: {', '.join(sorted(sortable))})")
            q.sort.append((key, part.startswith("-")))
    elif name == "_include":
        source, _, param = value.partition(":")
        param = param.split(":")[0]
        if source != rtype or param not in includes:
            raise FhirError(400, f"_include: {value!r} is not supported (supported: "
                                 f"{', '.join(f'{rtype}:{p}' for p in sorted(includes)) or 'none'})")
        q.include.append((source, param))
    elif name == "_format" and value not in ("json", "application/json", "application/fhir+json"):
        raise FhirError(406, f"_format: only JSON is served, not {value!r}")
    elif name == "_summary" and value != "false":
        raise FhirError(400, f"_summary: {value!r} is not supported (searchsets carry no total)")
    elif name == "_total" and value != "none":
        raise FhirError(400, "_total: totals are not given (a count would reveal resources the policy withholds)")


def sort_value(value: Any) -> tuple[int, Any]:
    """A sort key that puts missing values last and compares like with like."""
    return (1, "") if value is None else (0, value)

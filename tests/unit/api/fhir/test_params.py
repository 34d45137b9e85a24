"""Search-parameter parsing: date prefixes and precision, tokens, references, control parameters."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.fhir.errors import FhirError
from api.fhir.params import date_filter, date_range, parse_search, reference_id, token_values

SUPPORTED = {"date": "date", "code": "token", "patient": "reference", "name": "string", "encounter": "reference"}


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("value", "start", "end"), [
    ("2026", at(2026, 1, 1), at(2027, 1, 1)),
    ("2026-12", at(2026, 12, 1), at(2027, 1, 1)),
    ("2026-02-28", at(2026, 2, 28), at(2026, 3, 1)),
    ("2026-02-28T10:00:00Z", at(2026, 2, 28, 10), at(2026, 2, 28, 10, 0, 1)),
    ("2026-02-28T10:00Z", at(2026, 2, 28, 10), at(2026, 2, 28, 10, 1)),
    ("2026-02-28T12:00:00+02:00", at(2026, 2, 28, 10), at(2026, 2, 28, 10, 0, 1)),
])
def test_date_precision_is_a_range(value, start, end):
    assert date_range(value) == (start, end)


def test_prefixes_bound_and_exclude():
    f = date_filter(["ge2026-01-01", "lt2026-02", "ne2026-01-15"])
    assert (f.since, f.until) == (at(2026, 1, 1), at(2026, 2, 1))
    assert f.matches(at(2026, 1, 1)) and f.matches(at(2026, 1, 31, 23))
    assert not f.matches(at(2026, 1, 15, 12)) and not f.matches(at(2026, 2, 1)) and not f.matches(None)
    gt = date_filter(["gt2026-01-01"])
    assert gt.since == at(2026, 1, 2) and not gt.matches(at(2026, 1, 1, 23))
    le = date_filter(["le2026-01-01"])
    assert le.until == at(2026, 1, 2) and le.matches(at(2026, 1, 1, 23))
    assert date_filter(["eq2026"]).matches(at(2026, 6, 1))
    assert date_filter(["sa2026-01-01", "eb2026-01-03"]).matches(at(2026, 1, 2, 5))


@pytest.mark.parametrize("bad", ["xx2026", "2026-13-01", "yesterday", "2026-1-1", "2026,2027", "ge"])
def test_bad_dates_are_400(bad):
    with pytest.raises(FhirError) as err:
        date_filter([bad])
    assert err.value.status == 400


def test_tokens_and_references():
    assert token_values("http://loinc.org|2345-7,|718-7,abc", "code") == ["http://loinc.org|2345-7", "718-7", "abc"]
    assert reference_id("Patient/p-1", "Patient", "patient") == "p-1"
    assert reference_id("https://h/fhir/r4/Patient/p-1", "Patient", "subject") == "p-1"
    assert reference_id("p-1", "Patient", "patient") == "p-1"
    for bad in ("Encounter/e-1", "Patient/has space", "Patient/"):
        with pytest.raises(FhirError):
            reference_id(bad, "Patient", "patient")
    with pytest.raises(FhirError):
        token_values("a,,b", "code")


def test_parse_search_collects_filters_and_controls():
    q = parse_search("Observation", [("patient", "Patient/p1"), ("date", "ge2026"), ("date", "lt2027"),
                                     ("name:contains", "ann"), ("_count", "5"), ("_offset", "10"),
                                     ("_sort", "-date,_id"), ("_include", "Observation:patient")],
                     SUPPORTED, {"date", "_id"}, {"patient"})
    assert q.filters == {"patient": ["Patient/p1"], "date": ["ge2026", "lt2027"], "name": ["ann"]}
    assert q.modifiers == {"name": "contains"}
    assert (q.count, q.offset, q.sort, q.include) == (5, 10, [("date", True), ("_id", False)],
                                                       [("Observation", "patient")])
    assert q.dates().since == at(2026, 1, 1) and q.dates().until == at(2027, 1, 1)


@pytest.mark.parametrize(("items", "status"), [
    ([("colour", "red")], 400),
    ([("code:above", "x")], 400),
    ([("code", "")], 400),
    ([("_count", "-1")], 400),
    ([("_count", "100000")], 400),
    ([("_sort", "colour")], 400),
    ([("_include", "Encounter:patient")], 400),
    ([("_include", "Observation:performer")], 400),
    ([("_format", "xml")], 406),
    ([("patient", "Encounter/1")], 400),
    ([("date", "2026-99")], 400),
])
def test_bad_searches(items, status):
    with pytest.raises(FhirError) as err:
        parse_search("Observation", items, SUPPORTED, {"date"}, {"patient"})
    assert err.value.status == status

"""Property-based tests of the request parsers at the API's edge: FHIR search parameters, the audit
search's times, bearer tokens. Any input ends either in a value or in the parser's own documented
error (which the API answers as a 4xx), never in another exception (a 500); values that can be
written back (dates, ids, integers, tokens) survive the round trip."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import HTTPException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.auth import AuthError, TokenVerifier
from api.fhir.errors import FhirError
from api.fhir.params import (
    CONTROL,
    MAX_COUNT,
    PREFIXES,
    date_filter,
    date_range,
    integer,
    parse_search,
    reference_id,
    token_values,
)
from api.routes.audit import parse_time

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DATEISH = st.text(alphabet=st.sampled_from(list("0123456789-:T.Z+ ")), max_size=32)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-23, minutes=-59)),
                         timezone(timedelta(hours=14))])
MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)
FHIR_ID = st.from_regex(r"\A[A-Za-z0-9\-.]{1,64}\Z")


def _fhir_error(call, *args):  # noqa: ANN001, ANN202
    """The call's value, or None when it raised the FHIR facade's own error with a 4xx status."""
    try:
        return call(*args)
    except FhirError as exc:
        assert 400 <= exc.status < 500
        return None


@FUZZ
@given(st.one_of(DATEISH, st.text(max_size=40), st.sampled_from(["9999", "9999-12", "9999-12-31",
                                                                "9999-12-31T23:59:59Z", "0000-01-01", "2026-02-30"])))
def test_date_range_any_text(value: str) -> None:
    found = _fhir_error(date_range, value)
    if found is not None:
        start, end = found
        assert start.tzinfo is not None and start < end


@FUZZ
@given(MOMENTS, st.sampled_from(["year", "month", "day", "minute", "second", "micro"]))
def test_date_range_round_trip(moment: datetime, precision: str) -> None:
    """A value written at a precision denotes the range that starts at the value, cut to that precision."""
    text = {"year": 4, "month": 7, "day": 10}.get(precision)
    if text is not None:
        start, end = date_range(moment.isoformat()[:text])
        cut = {"year": dict(month=1, day=1), "month": dict(day=1), "day": {}}[precision]
        assert start == moment.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC, **cut)
    else:
        spec = {"minute": "minutes", "second": "seconds", "micro": "microseconds"}[precision]
        start, end = date_range(moment.isoformat(timespec=spec))
        assert start == moment.replace(second=0 if precision == "minute" else moment.second,
                                       microsecond=moment.microsecond if precision == "micro" else 0)
        assert end - start == {"minute": timedelta(minutes=1), "second": timedelta(seconds=1),
                               "micro": timedelta(microseconds=1)}[precision]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(list(PREFIXES) + ["", "xx"]), DATEISH), max_size=4))
def test_date_filter_prefixes(values: list[tuple[str, str]]) -> None:
    found = _fhir_error(date_filter, [p + v for p, v in values])
    if found is not None and found.since is not None and found.until is not None:
        assert found.matches(found.since) == (found.since < found.until and not any(
            lo <= found.since < hi for lo, hi in found.excluded))


@FUZZ
@given(MOMENTS)
def test_date_filter_ge_lt_bracket_the_instant(moment: datetime) -> None:
    value = moment.isoformat(timespec="seconds")
    assert date_filter([f"ge{value}"]).matches(moment.replace(microsecond=0))
    assert not date_filter([f"lt{value}"]).matches(moment.replace(microsecond=0))


@FUZZ
@given(st.text(max_size=60), st.sampled_from(["Patient", "Encounter"]))
def test_reference_and_token_any_text(raw: str, rtype: str) -> None:
    ident = _fhir_error(reference_id, raw, rtype, "patient")
    assert ident is None or ident in raw
    tokens = _fhir_error(token_values, raw, "code")
    assert tokens is None or all(t for t in tokens)


@FUZZ
@given(FHIR_ID, st.sampled_from(["", "Patient/", "https://example.org/fhir/Patient/"]))
def test_reference_round_trip(ident: str, prefix: str) -> None:
    assert reference_id(prefix + ident, "Patient", "subject") == ident


@FUZZ
@given(st.one_of(st.text(max_size=30), st.integers().map(str)))
def test_integer_any_text(raw: str) -> None:
    number = _fhir_error(integer, raw, "_count", 50, 0, MAX_COUNT)
    assert number is None or (0 <= number <= MAX_COUNT and number == int(raw))


KEYS = st.sampled_from(sorted(CONTROL) + ["patient", "date", "code", "subject", "name:exact", "name:bogus", "x"])


@FUZZ
@given(st.lists(st.tuples(KEYS, st.one_of(DATEISH, st.text(max_size=20), st.sampled_from(
    ["-date", "date,-code", "Observation:patient", "json", "none", "false", "2026", "Patient/abc"]))), max_size=6))
def test_parse_search_any_items(items: list[tuple[str, str]]) -> None:
    q = _fhir_error(parse_search, "Observation", items, {"patient": "reference", "subject": "reference",
                                                          "date": "date", "code": "token", "name": "string"},
                    {"date", "code"}, {"patient"})
    if q is not None:
        assert 0 <= q.count <= MAX_COUNT and q.offset >= 0
        assert all(key in ("date", "code") for key, _ in q.sort)


@FUZZ
@given(st.one_of(DATEISH, st.text(max_size=40)))
def test_audit_time_any_text(value: str) -> None:
    try:
        parsed = parse_time(value, "since")
    except HTTPException as exc:
        assert exc.status_code == 422
        return
    assert parsed is not None and parsed.tzinfo is not None


@FUZZ
@given(MOMENTS)
def test_audit_time_round_trip(moment: datetime) -> None:
    assert parse_time(moment.isoformat(), "until") == moment


PRIVATE = Ed25519PrivateKey.generate()
VERIFIER = TokenVerifier(issuer="hms", audience="hms-api", public_key=PRIVATE.public_key())


def _token(sub: str, role: str) -> str:
    now = datetime.now(UTC)
    return jwt.encode({"sub": sub, "role": role, "iss": "hms", "aud": "hms-api", "iat": now,
                       "exp": now + timedelta(minutes=5)}, PRIVATE, algorithm="EdDSA")


@FUZZ
@given(st.one_of(st.text(max_size=200), st.builds(lambda a, b, c: f"{a}.{b}.{c}", *[st.text(max_size=40)] * 3)))
def test_token_any_text_is_a_401(raw: str) -> None:
    with pytest.raises(AuthError):
        VERIFIER.verify(raw)


@FUZZ
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=30), st.data())
def test_token_round_trip_and_tampering(sub: str, role: str, data: st.DataObject) -> None:
    token = _token(sub, role)
    principal = VERIFIER.verify(token)
    assert (principal.user_id, principal.role) == (sub, role)
    i = data.draw(st.integers(0, len(token) - 1))
    tampered = token[:i] + data.draw(st.sampled_from("AQw_-.x")) + token[i + 1:]
    try:
        again = VERIFIER.verify(tampered)
    except AuthError:
        return
    assert (again.user_id, again.role) == (sub, role)  # only an equivalent encoding can still verify

"""Property-based tests of the body parsers behind the task API: task-completion payloads (pharmacy,
imaging report), medication orders, intake answers, triage vitals, DICOM uploads. Any JSON value
ends in a parsed value or in the module's documented validation error (answered 422), never in
another exception; canonical forms are fixed points (parsing them again changes nothing)."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError

from activities.imaging import InvalidStudy, describe_dicom
from ml.triage.schema import InvalidInput, TriageInput
from workflows import intake_questions as iq
from workflows.imaging import validate_report
from workflows.pharmacy_contracts import ORDER_FIELDS, TASK_PAYLOADS, parse_order, validate_payload
from workflows.stages import StageInputError

FUZZ = settings(max_examples=300, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["yes", " No ", "approve", "mg", "PO", "A", "7", "12"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                    max_leaves=6)


def payloads(fields: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts mostly over the known fields (so the deeper checks run), sometimes with a stranger."""
    keys = st.one_of(st.sampled_from(sorted(fields)), st.text(max_size=6))
    return st.dictionaries(keys, JSON, max_size=len(fields) + 1)


def _invalid_task_payload(exc: ApplicationError) -> None:
    assert exc.type == "InvalidTaskPayload" and exc.message.startswith("payload")


@FUZZ
@given(st.sampled_from(sorted(TASK_PAYLOADS)), st.data(), st.booleans())
def test_pharmacy_task_payloads(task_type: str, data: st.DataObject, override_needed: bool) -> None:
    field_name, allowed, _, fields = TASK_PAYLOADS[task_type]
    payload = data.draw(payloads(fields))
    if data.draw(st.booleans()):
        payload[field_name] = data.draw(st.sampled_from(allowed))
    try:
        validate_payload(task_type, payload, override_needed)
    except ApplicationError as exc:
        _invalid_task_payload(exc)


@FUZZ
@given(st.data())
def test_medication_order(data: st.DataObject) -> None:
    payload = data.draw(payloads(ORDER_FIELDS))
    for key, value in data.draw(st.dictionaries(st.sampled_from(["drug_code", "unit", "route", "dose",
                                                                  "frequency_hours", "doses", "duration_days"]),
                                                st.sampled_from(["723", "mg", "PO", 1, 8, 2.5, 3]))).items():
        payload[key] = value
    try:
        spec = parse_order(payload)
    except StageInputError as exc:
        assert str(exc).startswith("payload")
        return
    again = parse_order({"drug_code": spec.drug_code, "dose": spec.dose, "unit": spec.unit, "route": spec.route,
                         "frequency_hours": spec.frequency_hours, "doses": spec.doses})
    assert again == spec


REPORT = {"findings_code", "impression", "conclusion", "abnormal"}


@FUZZ
@given(st.data())
def test_imaging_report_payload(data: st.DataObject) -> None:
    payload = data.draw(payloads(REPORT))
    if data.draw(st.booleans()):
        payload.update(findings_code="RID5350", impression="clear lungs", conclusion="normal", abnormal=False)
        payload[data.draw(st.sampled_from(sorted(REPORT)))] = data.draw(JSON)
    try:
        validate_report(payload)
    except ApplicationError as exc:
        _invalid_task_payload(exc)


QUESTIONS = [q for cat in [*iq.CATEGORIES.values(), iq.GENERAL] for q in cat.questions]


@FUZZ
@given(st.sampled_from(QUESTIONS), JSON)
def test_intake_answer_is_checked_and_canonical(q: iq.Question, value: Any) -> None:
    try:
        canonical = iq.check_answer(q, value)
    except iq.InvalidAnswer as exc:
        assert str(exc).startswith("answer")
        return
    assert iq.check_answer(q, canonical) == canonical


@FUZZ
@given(st.text(max_size=60), st.dictionaries(st.sampled_from([q.id for q in QUESTIONS]), JSON, max_size=4))
def test_intake_flow_never_raises(complaint: str, answers: dict[str, Any]) -> None:
    name = iq.categorise(complaint)
    assert name == "general" or name in iq.CATEGORIES
    assert iq.next_question(name, answers) is None or iq.next_question(name, answers).id not in answers
    assert isinstance(iq.question_red_flags(name, answers), list)


GOOD_VITALS = dict(age=40, complaint="twisted ankle", respiratory_rate=16, spo2=98, on_oxygen=False, systolic_bp=125,
                   heart_rate=72, consciousness="A", temperature=36.8)


@FUZZ
@given(st.data())
def test_triage_input(data: st.DataObject) -> None:
    body: dict[Any, Any] = dict(GOOD_VITALS)
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.one_of(st.sampled_from([*GOOD_VITALS, "spo2_scale"]), st.text(max_size=5), st.integers()))
        if data.draw(st.booleans()):
            body[key] = data.draw(JSON)
        else:
            body.pop(key, None)
    try:
        parsed = TriageInput.from_mapping(body)
    except InvalidInput as exc:
        assert exc.message
        return
    assert TriageInput.from_mapping({k: getattr(parsed, k) for k in [*GOOD_VITALS, "spo2_scale"]}) == parsed


def _dicom_samples() -> list[bytes]:
    from pydicom.data import get_testdata_file

    return [open(get_testdata_file(name), "rb").read() for name in ("CT_small.dcm", "MR_small.dcm")]


@pytest.fixture(scope="module")
def dicoms() -> list[bytes]:
    return _dicom_samples()


@st.composite
def mutated(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    """A real DICOM file cut short, or with a few bytes overwritten (header, tags, lengths)."""
    data = bytearray(draw(st.sampled_from(samples)))
    if draw(st.booleans()):
        return bytes(data[:draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, min(len(data) - 1, 2048)))
        data[i] = draw(st.integers(0, 255))
    return bytes(data)


def test_dicom_uploads(dicoms: list[bytes]) -> None:
    assert describe_dicom(dicoms[0]) == "CT"

    @FUZZ
    @given(st.one_of(st.binary(max_size=300), st.builds(lambda b: b"\0" * 128 + b"DICM" + b, st.binary(max_size=200)),
                     mutated(dicoms)))
    def check(data: bytes) -> None:
        try:
            modality = describe_dicom(data)
        except InvalidStudy:
            return
        assert modality is None or (isinstance(modality, str) and len(modality) <= 8)

    check()

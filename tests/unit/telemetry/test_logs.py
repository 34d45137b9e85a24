"""JSON log lines: one object per line, with the span's ids when logged inside one."""
from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from deploy.settings import Settings
from deploy.telemetry.logs import JsonFormatter, configure_logging, log_handler


def _line(formatter: logging.Formatter, msg: str, *args: object, exc: bool = False) -> dict:
    record = logging.LogRecord("hms.test", logging.WARNING, __file__, 1, msg, args,
                               (ValueError, ValueError("boom"), None) if exc else None)
    return json.loads(formatter.format(record))


def test_a_line_is_one_json_object_with_the_fixed_fields() -> None:
    out = _line(JsonFormatter("hms-api"), "worker polling %s on %s", "hms-journeys", "127.0.0.1:7233")
    assert out.keys() == {"ts", "level", "logger", "service", "message"}
    assert out["message"] == "worker polling hms-journeys on 127.0.0.1:7233"
    assert out["level"] == "WARNING" and out["logger"] == "hms.test" and out["service"] == "hms-api"
    assert out["ts"].endswith("+00:00")


def test_inside_a_span_the_line_carries_its_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("op") as span:
        out = _line(JsonFormatter(), "inside")
    context = span.get_span_context()
    assert out["trace_id"] == format(context.trace_id, "032x") and len(out["trace_id"]) == 32
    assert out["span_id"] == format(context.span_id, "016x")


def test_exceptions_are_one_field_of_the_same_line() -> None:
    text = JsonFormatter().format(logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (),
                                                    (ValueError, ValueError("boom"), None)))
    assert "\n" not in text and "ValueError: boom" in json.loads(text)["exc"]


def test_text_stays_the_default_and_json_is_chosen_by_setting() -> None:
    assert Settings().log_format == "text"
    assert not isinstance(log_handler("text").formatter, JsonFormatter)
    assert isinstance(log_handler("json").formatter, JsonFormatter)


def test_configure_logging_installs_one_root_handler() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        configure_logging(Settings(log_format="json"), "hms-worker")
        assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, JsonFormatter)
        stream = io.StringIO()
        root.handlers[0].stream = stream  # type: ignore[attr-defined]
        logging.getLogger("hms").info("worker stopped")
        assert json.loads(stream.getvalue())["service"] == "hms-worker"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)

"""Keep patient data out of spans: what a span may say about a Temporal workflow.

``temporalio.contrib.opentelemetry.TracingInterceptor`` puts ``temporalWorkflowID`` (and, for an
update-with-start, ``temporalUpdateID``) on every client, workflow and activity span. Our workflow
ids embed encounter, patient, order and intake ids (``journey-<encounter>``, ``erasure-<patient>``,
``ingest-<patient key>``): pseudonymous, but still a key to one patient's record, which a tracing
backend (kept longer and read more widely than the Temporal UI) must not hold. So every span is
rewritten as it starts: a workflow id keeps its kind (``journey-*``) and update ids are dropped to
``*``. ``temporalRunID`` (a random UUID, enough to find the execution in Temporal) and
``temporalActivityID`` (a sequence number within the run) stay as they are. Raw URL attributes
(``url.path``, ``url.query``, ...) that an HTTP instrumentation might add become ``*`` as well: the
route template (``http.route``) is what a span may say about a request.
"""
from __future__ import annotations

import re

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

#: Attributes whose values are rewritten, and how.
_WORKFLOW_ID_KEYS = ("temporalWorkflowID",)
#: Update ids; and, should a framework's own HTTP instrumentation be on, raw URLs (paths carry patient ids).
_DROPPED_KEYS = ("temporalUpdateID", "url.path", "url.query", "url.full", "http.target", "http.url")
_WORD = re.compile(r"[a-z]+[0-9]?")  # journey, break, glass, hl7, ingest, ...
_HEXISH = re.compile(r"[a-f]{6,}")  # a UUID's or digest's leading letters are not a word


def workflow_kind(workflow_id: str) -> str:
    """``journey-3f2a…`` → ``journey-*``, ``hl7-ingest-…`` → ``hl7-ingest-*``: the leading words, never the ids."""
    words: list[str] = []
    for segment in workflow_id.split("-"):
        if not _WORD.fullmatch(segment) or _HEXISH.fullmatch(segment):
            break
        words.append(segment)
    if len(words) == len(workflow_id.split("-")):
        words = words[:-1]  # no id after the words: keep it anyway as a kind, never a whole unknown id
    return "-".join([*words, "*"])


class RedactingSpanProcessor(SpanProcessor):
    """Rewrites id-bearing Temporal attributes on span start (the only moment a span is still writable)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        for key in _WORKFLOW_ID_KEYS:
            value = attributes.get(key)
            if isinstance(value, str):
                span.set_attribute(key, workflow_kind(value))
        for key in _DROPPED_KEYS:
            if key in attributes:
                span.set_attribute(key, "*")

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

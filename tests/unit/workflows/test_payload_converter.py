"""The project's payload converter: the SDK's pydantic JSON on the wire, one adapter cache per process."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter

from workflows.contracts import TaskCompletion, TaskCompletionResult
from workflows.payload_converter import SharedCachePayloadConverter, data_converter, process_wide

JSON = b"json/plain"


def _adapter(converter: SharedCachePayloadConverter, hint: Any) -> Any:
    return converter.converters[JSON]._type_adapter(hint)  # type: ignore[attr-defined]


def test_process_wide_types_are_the_interpreters_own() -> None:
    assert process_wide(TaskCompletion)
    assert process_wide(list[TaskCompletion])
    assert process_wide(TaskCompletion | None)
    assert process_wide(dict[str, Any]) and process_wide(str) and process_wide(Any)

    @dataclass
    class Local:
        x: int

    assert not process_wide(Local)
    assert not process_wide(list[Local])
    # a class that claims a contract's name but is another object (a sandbox's copy of a module)
    twin = type("TaskCompletion", (), {"__module__": "workflows.contracts", "__qualname__": "TaskCompletion"})
    assert not process_wide(twin)


def test_converters_share_the_adapters_of_process_wide_types() -> None:
    first, second = SharedCachePayloadConverter(), SharedCachePayloadConverter()
    assert _adapter(first, TaskCompletion) is _adapter(second, TaskCompletion)


def test_sandbox_copies_are_cached_per_converter_only() -> None:
    @dataclass
    class Local:
        x: int

    first, second = SharedCachePayloadConverter(), SharedCachePayloadConverter()
    assert _adapter(first, Local) is _adapter(first, Local)
    assert _adapter(first, Local) is not _adapter(second, Local)


def test_the_wire_format_is_the_sdks() -> None:
    value = TaskCompletion(task_id="t-1", actor="nurse-1", role="nurse", payload={"status": "given", "n": 2})
    ours = data_converter.payload_converter.to_payloads([value])
    sdk = pydantic_data_converter.payload_converter.to_payloads([value])
    assert ours == sdk
    assert data_converter.payload_converter.from_payloads(sdk, [TaskCompletion]) == [value]
    back = data_converter.payload_converter.from_payloads(
        data_converter.payload_converter.to_payloads([TaskCompletionResult("t-1", "completed")]), [TaskCompletionResult])
    assert back == [TaskCompletionResult("t-1", "completed")]

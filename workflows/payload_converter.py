"""The payload converter of every client and worker: pydantic JSON with one type-adapter cache per process.

The SDK creates a fresh payload converter for each workflow instance, so the pydantic converter's
own cache of ``TypeAdapter`` objects started empty for every run: each journey stage rebuilt the
validators of its inputs, activity results and updates (a schema build each, milliseconds apiece).
Here the adapters of types that live outside the workflow sandbox (the contract modules are passed
through, builtins and the standard library too) are kept in one bounded cache for the whole
process. A type the sandbox re-imported for one run is a different class object in every run; it
is cached per converter instance, as before, so no run's classes are pinned by the shared cache.
The wire format is the SDK's ``json/plain`` unchanged: histories written before read the same.
"""
from __future__ import annotations

import functools
import sys
import types
import typing
from typing import Any

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

#: The interpreter's own module table, taken at import (outside any sandbox): a sandboxed run sees
#: its own ``sys.modules`` while it is active.
_MODULES = sys.modules
SHARED_ADAPTERS = 2048


@functools.lru_cache(maxsize=SHARED_ADAPTERS)
def _shared_adapter(hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(hint)


def process_wide(hint: Any) -> bool:
    """True when ``hint`` (and every type inside it) is the process's own object, not a sandbox's copy."""
    if hint is Any or hint is None or hint is type(None):
        return True
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is not None:
        return (origin in (typing.Union, types.UnionType, typing.Literal) or process_wide(origin)) and all(
            process_wide(a) if not isinstance(a, str | int | bool | bytes) else True for a in args)
    module = _MODULES.get(getattr(hint, "__module__", ""), None)
    if module is None:
        return False
    target: Any = module
    for part in getattr(hint, "__qualname__", "<no name>").split("."):
        target = getattr(target, part, None)
    return target is hint


class SharedCacheJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    """``json/plain`` through pydantic; adapters of process-wide types come from the shared cache."""

    def __init__(self) -> None:
        super().__init__()
        own = self._type_adapter

        def adapter(hint: Any) -> TypeAdapter[Any]:
            return _shared_adapter(hint) if process_wide(hint) else own(hint)

        self._type_adapter = adapter  # type: ignore[assignment]


class SharedCachePayloadConverter(CompositePayloadConverter):
    """The SDK's default converters with JSON replaced by the shared-cache pydantic one (nullary, as required)."""

    def __init__(self) -> None:
        json = SharedCacheJSONPayloadConverter()
        super().__init__(*(json if isinstance(c, JSONPlainPayloadConverter) else c
                           for c in DefaultPayloadConverter.default_encoding_payload_converters))


data_converter = DataConverter(payload_converter_class=SharedCachePayloadConverter)

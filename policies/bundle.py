"""Loads the Rego bundle from disk: policy modules, merged data, and a content version.

Both engines and the test runner read the bundle through here so they agree on
what "the policy" is: every ``*.rego`` except ``*_test.rego``, and every
``data.json`` mounted at its directory path (``hms/authz/data.json`` becomes
``data.hms.authz``), as OPA bundles do.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BUNDLE_DIR = Path(__file__).resolve().parent
DECISION_PATH = "hms/authz/decision"


class BundleError(ValueError):
    """The bundle on disk cannot be used (unreadable, conflicting data, no modules)."""


@dataclass(frozen=True)
class PolicyBundle:
    """The policy as loaded: module sources by relative path, data by mount path, and its version."""

    modules: dict[str, str]
    data_files: dict[str, dict[str, Any]]
    version: str
    data: dict[str, Any] = field(default_factory=dict)


def _mount(tree: dict[str, Any], prefix: tuple[str, ...], doc: dict[str, Any], origin: str) -> None:
    node = tree
    for part in prefix:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise BundleError(f"{origin}: data path conflicts with a value at {'/'.join(prefix)}")
    for key, value in doc.items():
        if key in node:
            raise BundleError(f"{origin}: data key {key!r} is defined twice")
        node[key] = value


def load_bundle(bundle_dir: Path | None = None, *, include_tests: bool = False) -> PolicyBundle:
    """Read the bundle; ``include_tests`` adds ``*_test.rego`` (for the test runner only)."""
    root = Path(bundle_dir or DEFAULT_BUNDLE_DIR)
    modules: dict[str, str] = {}
    data_files: dict[str, dict[str, Any]] = {}
    digest = hashlib.sha256()
    try:
        for path in sorted(root.rglob("*.rego")):
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            if rel.endswith("_test.rego"):
                if include_tests:
                    modules[rel] = text
                continue
            modules[rel] = text
            digest.update(b"module\0" + rel.encode() + b"\0" + text.encode())
        for path in sorted(root.rglob("data.json")):
            rel_dir = path.parent.relative_to(root).as_posix()
            raw = path.read_text(encoding="utf-8")
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise BundleError(f"{path.name} in {rel_dir or '.'} must hold a JSON object")
            data_files["" if rel_dir == "." else rel_dir] = doc
            digest.update(b"data\0" + rel_dir.encode() + b"\0" + raw.encode())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"cannot read policy bundle: {type(exc).__name__}") from exc
    if not any(not name.endswith("_test.rego") for name in modules):
        raise BundleError(f"no policy modules under {root}")
    data: dict[str, Any] = {}
    for mount, doc in data_files.items():
        _mount(data, tuple(p for p in mount.split("/") if p), doc, mount or ".")
    return PolicyBundle(modules=modules, data_files=data_files, version=digest.hexdigest()[:12], data=data)

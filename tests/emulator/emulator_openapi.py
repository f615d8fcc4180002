"""Validate emulator responses against Microsoft's OpenAPI descriptions of Graph v1.0.

The descriptions are the repository's trimmed copies in tests/emulator/openapi/ (NOTE.md
there says where they come from; tools/trim-graph-openapi regenerates them), so the
suite passes on any clone. Each YAML is parsed once per process; a response is checked
against the 2XX (or `default` error) schema of the same operation, with `$ref`s resolved
inside its document.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

# Inside the checkout, never beside it: a fork or a fresh clone has nothing else.
OPENAPI_DIR = Path(__file__).resolve().parent / "openapi"


@functools.cache
def document(name: str) -> dict[str, Any]:
    with (OPENAPI_DIR / name).open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=yaml.CSafeLoader)
    return loaded


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def response_schema(file: str, path: str, status: str = "2XX") -> dict[str, Any]:
    doc = document(file)
    responses = doc["paths"][path]["get"]["responses"]
    response = _resolve(doc, responses.get(status) or responses.get("200") or responses["default"])
    return _resolve(doc, response["content"]["application/json"]["schema"])


def _open_types(node: Any) -> Any:
    """Read `additionalProperties: {type: object}` as "open type", the way Microsoft's
    generators do. Taken literally by JSON Schema it would reject every property declared
    in a sibling `allOf` branch (e.g. a user's displayName), so real Graph payloads fail too.
    """
    if isinstance(node, dict):
        return {
            k: True if k == "additionalProperties" and v == {"type": "object"} else _open_types(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_open_types(v) for v in node]
    return node


@functools.cache
def _components(file: str) -> dict[str, Any]:
    components: dict[str, Any] = _open_types(document(file)["components"])
    return components


@functools.cache
def validator(file: str, path: str, status: str = "2XX") -> OAS30Validator:
    # Draft-4 semantics ignore siblings of "$ref", so the document's components ride along
    # and every "#/components/..." reference resolves inside this root.
    root = {
        "components": _components(file),
        "x-target": _open_types(response_schema(file, path, status)),
        "$ref": "#/x-target",
    }
    return OAS30Validator(root)


def assert_valid(body: Any, file: str, path: str, status: str = "2XX") -> None:
    errors = sorted(validator(file, path, status).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])

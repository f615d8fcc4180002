"""tools/trim-graph-openapi: what it keeps of Microsoft's files, run as a contributor runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

TOOL = Path(__file__).resolve().parents[2] / "tools" / "trim-graph-openapi"
ERROR = {"$ref": "#/components/responses/error"}
MAIL: dict[str, Any] = {
    "openapi": "3.0.4",
    "info": {"title": "Mail", "version": "v1.0"},
    "paths": {
        "/users/{user-id}/mailFolders": {
            "description": "kept",
            "get": {"responses": {"2XX": {"$ref": "#/components/responses/folders"}}},
            "post": {"responses": {"2XX": {"$ref": "#/components/schemas/draft"}}},
        },
        "/users/{user-id}/messages": {
            "get": {"responses": {"2XX": {"$ref": "#/components/schemas/message"}}},
        },
    },
    "components": {
        "schemas": {
            "folder": {"properties": {"parent": {"$ref": "#/components/schemas/folder~1parent"}}},
            "folder/parent": {"type": "string"},
            "message": {"type": "object"},
            "draft": {"type": "object"},
        },
        "responses": {
            "folders": {
                "content": {
                    "application/json": {
                        "schema": {"items": {"$ref": "#/components/schemas/folder"}}
                    }
                }
            },
            "error": {"description": "unused"},
        },
    },
}


FOLDER_SCHEMAS = ("folder", "folder/parent")  # the second reached through the first only


def _trim(tmp_path: Path, full: dict[str, Any], manifest: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "full").mkdir(parents=True)
    (tmp_path / "full" / "Mail.yml").write_text(yaml.safe_dump(full))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "operations.txt").write_text(manifest)
    return subprocess.run(
        [sys.executable, str(TOOL), str(tmp_path / "full"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keeps_the_listed_get_and_what_it_references_transitively(tmp_path: Path) -> None:
    done = _trim(tmp_path, MAIL, "# comment\nMail.yml /users/{user-id}/mailFolders\n")
    assert done.returncode == 0, done.stderr
    trimmed = yaml.safe_load((tmp_path / "out" / "Mail.yml").read_text())
    assert trimmed["info"] == MAIL["info"]
    assert trimmed["paths"] == {
        "/users/{user-id}/mailFolders": {
            "description": "kept",
            "get": MAIL["paths"]["/users/{user-id}/mailFolders"]["get"],
        }
    }
    assert trimmed["components"] == {
        "schemas": {name: MAIL["components"]["schemas"][name] for name in FOLDER_SCHEMAS},
        "responses": {"folders": MAIL["components"]["responses"]["folders"]},
    }


def test_refuses_an_operation_or_reference_it_cannot_find(tmp_path: Path) -> None:
    done = _trim(tmp_path, MAIL, "Mail.yml /users/{user-id}/events\n")
    assert (done.returncode, done.stderr) == (
        2,
        "trim-graph-openapi: no GET operation for /users/{user-id}/events\n",
    )
    dangling = {**MAIL, "paths": {"/organization": {"get": {"responses": {"default": ERROR}}}}}
    dangling["components"] = {"schemas": {}}
    done = _trim(tmp_path / "again", dangling, "Mail.yml /organization\n")
    assert (done.returncode, done.stderr) == (
        2,
        "trim-graph-openapi: dangling reference #/components/responses/error\n",
    )

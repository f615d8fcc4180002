"""Writing a subject export to disk: one JSON file, or one CSV file per section.

Files are created with mode 0600 at open time (never chmod-ed afterwards, which
would leave a window where another user could open them) and never overwrite
an existing file: O_EXCL also refuses a file planted in advance with wider
permissions, which O_CREAT alone would reuse as it is.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from compliance.exceptions import ExportTargetError
from compliance.export import SubjectExport
from compliance.export_layout import SECTION_COLUMNS, SECTIONS

FORMATS = ("json", "csv")
JSON_FILE = "rapport-export.json"
MANIFEST_FILE = "manifest.csv"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def export_files(fmt: str) -> list[str]:
    """The file names an export in this format writes, in writing order."""
    if fmt == "json":
        return [JSON_FILE]
    if fmt == "csv":
        return [MANIFEST_FILE, *(f"{section}.csv" for section in SECTIONS)]
    raise ExportTargetError(f"format: {fmt!r} is not allowed; expected one of {', '.join(FORMATS)}")


def write_export(export: SubjectExport, out: Path, fmt: str) -> list[Path]:
    """Write the export into `out` (created 0700 if missing); returns the files written."""
    names = export_files(fmt)
    paths = [_prepare(out) / name for name in names]
    taken = [path.name for path in paths if path.exists()]
    if taken:
        raise ExportTargetError(
            f"out: {out} already holds {', '.join(taken)}; choose an empty directory"
        )
    if fmt == "json":
        _write(paths[0], lambda handle: _dump_json(export, handle))
    else:
        _write(paths[0], lambda handle: _dump_manifest(export, handle))
        for path, section in zip(paths[1:], SECTIONS, strict=True):
            _write(path, partial(_dump_section, export, section))
    return paths


def document(export: SubjectExport) -> dict[str, Any]:
    """The JSON document (format_version 1)."""
    return {
        "format_version": export.format_version,
        "generated_at": export.generated_at,
        "subject": export.subject,
        "notice": export.notice,
        "counts": export.counts(),
        "sections": export.sections,
    }


def _prepare(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ExportTargetError(f"out: {out} exists and is not a directory")
    out.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    return out


def _write(path: Path, dump: Callable[[TextIO], None]) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        raise ExportTargetError(f"out: {path} already exists; choose an empty directory") from None
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        dump(handle)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dump_json(export: SubjectExport, handle: TextIO) -> None:
    json.dump(document(export), handle, indent=2, ensure_ascii=False, default=_json_value)
    handle.write("\n")


def _dump_manifest(export: SubjectExport, handle: TextIO) -> None:
    writer = csv.writer(handle)
    writer.writerow(("key", "value"))
    writer.writerow(("format_version", export.format_version))
    writer.writerow(("generated_at", export.generated_at.isoformat()))
    writer.writerow(("subject", export.subject))
    writer.writerow(("notice", export.notice))
    for section, count in export.counts().items():
        writer.writerow((f"count.{section}", count))


def _dump_section(export: SubjectExport, section: str, handle: TextIO) -> None:
    rows = export.sections[section]
    columns = _columns(SECTION_COLUMNS[section], rows)
    writer = csv.writer(handle)
    writer.writerow(columns)
    writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)


def _columns(documented: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> list[str]:
    # Keys a newer scorer added to a JSON list still reach the file, after the documented ones.
    columns = dict.fromkeys(documented)
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_value)
    return str(value)

"""Writing a subject export to disk: one JSON file, or one CSV file per section.

Files are created with mode 0600 at open time (never chmod-ed afterwards, which
would leave a window where another user could open them) and never overwrite
an existing file: O_EXCL also refuses a file planted in advance with wider
permissions, which O_CREAT alone would reuse as it is.

An export is personal data, so a half-written one must never stay on disk: each
file is written complete (flushed and synced) under a hidden temporary name in
the target directory, and only then published under its final name by a hard
link, which, unlike a rename, refuses to replace a file that appeared
meanwhile. Any failure (a full disk, a write error, an interruption) removes
every temporary and every file already published.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
DIRECTORY_MODE = 0o700


def export_files(fmt: str) -> list[str]:
    """The file names an export in this format writes, in writing order."""
    if fmt == "json":
        return [JSON_FILE]
    if fmt == "csv":
        return [MANIFEST_FILE, *(f"{section}.csv" for section in SECTIONS)]
    raise ExportTargetError(f"format: {fmt!r} is not allowed; expected one of {', '.join(FORMATS)}")


@dataclass(frozen=True)
class ExportTarget:
    """Where an export goes, checked before anything is read from the store."""

    directory: Path
    files: list[Path]
    created: bool  # the directory did not exist: a failed export removes it again

    def abandon(self) -> None:
        """Remove the directory if this export created it and it is still empty."""
        if self.created:
            try:
                self.directory.rmdir()
            except OSError:
                pass  # not empty: something else was put there meanwhile; leave it


Dump = Callable[[TextIO], None]


@dataclass
class StagedExport:
    """Complete export files under temporary names, beside their final names."""

    pending: list[tuple[Path, Path]] = field(default_factory=list)  # (temporary, final)
    published: list[Path] = field(default_factory=list)

    def publish(self) -> list[Path]:
        """Give every file its final name; on any failure nothing stays (discard)."""
        try:
            for temporary, final in self.pending:
                _publish(temporary, final)
                self.published.append(final)
        except BaseException:
            self.discard()
            raise
        self._remove_temporaries()
        return list(self.published)

    def discard(self) -> None:
        """Remove every temporary and every file already published."""
        for path in self.published:
            path.unlink(missing_ok=True)
        self.published.clear()
        self._remove_temporaries()

    def _remove_temporaries(self) -> None:
        for temporary, _final in self.pending:
            temporary.unlink(missing_ok=True)
        self.pending.clear()


def prepare_target(out: Path, fmt: str) -> ExportTarget:
    """Create `out` (0700) if missing; refuse a target that cannot take this export."""
    names = export_files(fmt)
    created = not out.exists()
    directory = _prepare(out)
    files = [directory / name for name in names]
    taken = [path.name for path in files if path.exists()]
    if taken:
        raise ExportTargetError(
            f"out: {out} already holds {', '.join(taken)}; choose an empty directory"
        )
    return ExportTarget(directory, files, created)


def stage_export(export: SubjectExport, target: ExportTarget, fmt: str) -> StagedExport:
    """Write every file complete under a temporary name; nothing stays if one fails."""
    staged = StagedExport()
    try:
        for final, dump in zip(target.files, _dumps(export, fmt), strict=True):
            staged.pending.append((_write_temporary(final, dump), final))
    except BaseException:
        staged.discard()
        raise
    return staged


def write_export(export: SubjectExport, out: Path, fmt: str) -> list[Path]:
    """Write the export into `out` (created 0700 if missing); returns the files written."""
    target = prepare_target(out, fmt)
    try:
        return stage_export(export, target, fmt).publish()
    except BaseException:
        target.abandon()
        raise


def _dumps(export: SubjectExport, fmt: str) -> list[Dump]:
    if fmt == "json":
        return [lambda handle: _dump_json(export, handle)]
    return [
        lambda handle: _dump_manifest(export, handle),
        *(partial(_dump_section, export, section) for section in SECTIONS),
    ]


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
        raise ExportTargetError(f"--out: {out} exists and is not a directory")
    try:
        out.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    except OSError as problem:
        raise ExportTargetError(
            f"--out: cannot create the directory {out}: {_reason(problem)}; "
            "expected a directory you can write to"
        ) from None
    return out


def _reason(problem: OSError) -> str:
    return problem.strerror or type(problem).__name__


def _write_temporary(final: Path, dump: Dump) -> Path:
    """`final`'s content, complete and synced, in a hidden 0600 file beside it."""
    try:
        # mkstemp opens with O_EXCL and mode 0600, like the final file.
        descriptor, name = tempfile.mkstemp(
            dir=final.parent, prefix=f".{final.name}.", suffix=".part"
        )
    except OSError as problem:
        raise ExportTargetError(
            f"--out: cannot write into {final.parent}: {_reason(problem)}"
        ) from None
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            dump(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as failure:
        temporary.unlink(missing_ok=True)
        if isinstance(failure, OSError):
            raise ExportTargetError(
                f"--out: cannot write {final.name} into {final.parent}: {_reason(failure)}; "
                "no export file was left there"
            ) from None
        raise
    return temporary


# Filesystems without hard links: publish by rename after checking the name is free.
NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV}


def _publish(temporary: Path, final: Path) -> None:
    try:
        os.link(temporary, final)
    except FileExistsError:
        raise ExportTargetError(f"out: {final} already exists; choose an empty directory") from None
    except OSError as problem:
        if problem.errno not in NO_HARD_LINKS:
            raise ExportTargetError(f"--out: cannot publish {final}: {_reason(problem)}") from None
        if final.exists():
            raise ExportTargetError(
                f"out: {final} already exists; choose an empty directory"
            ) from None
        os.rename(temporary, final)


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

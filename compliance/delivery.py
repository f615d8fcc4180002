"""`rapport export` end to end: read the subject, write the files, audit the export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from compliance.audit import audit_export
from compliance.export import SubjectExport, export_subject
from compliance.export_files import export_files, write_export


@dataclass(frozen=True)
class ExportDelivery:
    export: SubjectExport
    fmt: str
    files: list[Path]


def deliver_export(
    engine: Engine, subject: str, *, out: Path, fmt: str, now: datetime
) -> ExportDelivery:
    """Write the export into `out`; the audit row is added only once the files exist."""
    export_files(fmt)  # refuse an unknown format before reading anything
    export = export_subject(engine, subject, now=now)
    files = write_export(export, out, fmt)
    audit_export(engine, export, fmt=fmt, now=now)
    return ExportDelivery(export, fmt, files)

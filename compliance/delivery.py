"""`rapport export` end to end: read the subject, write the files, audit the export.

An export is personal data leaving the store, so it exists on disk only if the
audit log says so, and the audit log also records an export that failed once
the data was read:

1. the target is checked before anything is read (a bad `--out` reads nothing);
2. the subject is read, and its files are written complete under temporary
   names (compliance.export_files);
3. in one transaction the audit row is added and the files get their final
   names; a commit that fails removes them again, so a read-only store leaves
   no export behind;
4. a failure after step 2 began is audited as `subject_export_failed`; when
   even that row cannot be written, the error says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from compliance.audit import record_export
from compliance.exceptions import ExportNotAuditedError, ExportTargetError
from compliance.export import SubjectExport, export_subject
from compliance.export_files import StagedExport, prepare_target, stage_export
from storage.engine import database_error_line, session_scope


@dataclass(frozen=True)
class ExportDelivery:
    export: SubjectExport
    fmt: str
    files: list[Path]


def deliver_export(
    engine: Engine, subject: str, *, out: Path, fmt: str, now: datetime
) -> ExportDelivery:
    """Write the export into `out`: the files exist only with their audit row."""
    target = prepare_target(out, fmt)  # refuses an unknown format or a bad target first
    try:
        export = export_subject(engine, subject, now=now)
    except BaseException:
        target.abandon()
        raise
    try:
        staged = stage_export(export, target, fmt)
        files = _publish_audited(engine, export, staged, fmt=fmt, now=now)
    except ExportTargetError as failure:
        target.abandon()
        raise _audit_failure(engine, export, fmt=fmt, now=now, failure=failure) from None
    except BaseException:
        target.abandon()
        raise
    return ExportDelivery(export, fmt, files)


def _publish_audited(
    engine: Engine, export: SubjectExport, staged: StagedExport, *, fmt: str, now: datetime
) -> list[Path]:
    """Audit row and final file names together: if the row does not commit, no file stays."""
    try:
        with session_scope(engine) as session:
            record_export(session, export, fmt=fmt, now=now)
            session.flush()  # a read-only store refuses here, before any file is published
            files = staged.publish()
    except sa_exc.SQLAlchemyError as error:
        staged.discard()
        raise ExportNotAuditedError(
            f"export of {export.subject} withdrawn: the audit log cannot be written "
            f"({database_error_line(error)}); no export file was left"
        ) from None
    except BaseException:
        staged.discard()
        raise
    return files


def _audit_failure(
    engine: Engine, export: SubjectExport, *, fmt: str, now: datetime, failure: Exception
) -> Exception:
    """Record the failed export; the error to raise says whether that was possible."""
    try:
        with session_scope(engine) as session:
            record_export(session, export, fmt=fmt, now=now, failure=str(failure))
    except sa_exc.SQLAlchemyError as error:
        return ExportNotAuditedError(
            f"{failure}; the failed export could not be recorded in the audit log either "
            f"({database_error_line(error)})"
        )
    return failure

"""Data-subject export and erasure, retention purge, audit log (docs/compliance.md).

Imports only `storage`. Every function takes the engine and an explicit `now`
and raises a `ComplianceError` (compliance.exceptions) for a request the
operator can correct.
"""

from compliance.audit import audit_export, list_audit
from compliance.delivery import ExportDelivery, deliver_export
from compliance.erase import ErasureReport, erase_subject
from compliance.exceptions import (
    ComplianceError,
    ExportTargetError,
    RetentionWindowError,
    SubjectError,
    UnknownSubjectError,
)
from compliance.export import SubjectExport, export_subject
from compliance.export_files import write_export
from compliance.export_layout import EMPLOYMENT_NOTICE, FORMAT_VERSION, SECTIONS
from compliance.retention import RetentionReport, purge_retention
from compliance.suppression import ReleaseReport, release_subject

__all__ = [
    "EMPLOYMENT_NOTICE",
    "FORMAT_VERSION",
    "SECTIONS",
    "ComplianceError",
    "ErasureReport",
    "ExportDelivery",
    "ExportTargetError",
    "ReleaseReport",
    "RetentionReport",
    "RetentionWindowError",
    "SubjectError",
    "SubjectExport",
    "UnknownSubjectError",
    "audit_export",
    "deliver_export",
    "erase_subject",
    "export_subject",
    "list_audit",
    "purge_retention",
    "release_subject",
    "write_export",
]

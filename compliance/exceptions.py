"""Why a compliance request was refused.

    ComplianceError                 the base: a request the operator can correct
    ├── SubjectError                the subject is malformed or names nobody
    │   └── UnknownSubjectError     well formed, but neither the CRM nor Rapport knows it
    ├── ExportTargetError           the output directory cannot take the export
    └── RetentionWindowError        a retention window that would delete everything

    ExportNotAuditedError           the audit log could not be written (a read-only or
                                    unreachable store), so no export file was left

Every ComplianceError message names the argument and says what is allowed, so
the CLI can print it as one line and exit 2 without string matching; an
ExportNotAuditedError is the store's fault, not the request's (exit 4).
"""

from __future__ import annotations


class ComplianceError(Exception):
    """A compliance request that cannot be carried out as given."""


class SubjectError(ComplianceError):
    """The subject is not an email address or TYPE:ID."""


class UnknownSubjectError(SubjectError):
    """The subject is well formed but matches no record, user or stored row."""


class ExportTargetError(ComplianceError):
    """The export directory is not a directory, or already holds an export."""


class RetentionWindowError(ComplianceError):
    """A retention window outside 1 to 36,500 days, or reaching before year 1."""


class ExportNotAuditedError(Exception):
    """An export whose audit row could not be written: its files were removed."""

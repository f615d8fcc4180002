"""Logging: human text on a terminal, one JSON object per line for collectors.

Both formats carry the event's fields (`extra={"fields": {...}}`): the JSON
format as keys of the object, the text format as `key=value` after the
message, so `scoring run` says what it scored in either.

Only Rapport's own loggers speak at the configured level. The libraries under
it (azure-identity logs every token request's headers at INFO, httpx every
URL, APScheduler every job) are held to WARNING by a filter on the handler
unless RAPPORT_LOG_LEVEL=DEBUG asks for everything. A filter, not logger
levels: it covers libraries nobody listed, and leaves no process-wide state
behind (a test's log capture still sees every record).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Top-level logger names of Rapport's packages; every other logger is a library's.
OWN_LOGGERS = frozenset(
    {
        "rapport",
        "worker",
        "storage",
        "scoring",
        "consent",
        "graph_sync",
        "emulator",
        "compliance",
        "crm",
        "insights",
        "web",
        "bench",
    }
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        event.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            event["error"] = record.exc_info[0].__name__
        return json.dumps(event, default=str)


def _logfmt_value(value: Any) -> str:
    """A value a reader (and a logfmt parser) can take back: bare when it is one
    word, JSON (quoted, compact) when it has spaces, quotes or structure."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value and not any(c in value for c in ' "=\\\n\t'):
        return value
    return json.dumps(value, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        fields: dict[str, Any] = getattr(record, "fields", {})
        if not fields:
            return line
        return line + " " + " ".join(f"{key}={_logfmt_value(v)}" for key, v in fields.items())


class LibraryThreshold(logging.Filter):
    """Let a library's record through only from `threshold` up; Rapport's always."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.threshold:
            return True
        return record.name.partition(".")[0] in OWN_LOGGERS


def library_threshold(level: int) -> int:
    """DEBUG opens every library's logs; any other level keeps them to warnings
    (and above the configured level, when that is higher)."""
    return logging.DEBUG if level <= logging.DEBUG else max(logging.WARNING, level)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    handler.addFilter(LibraryThreshold(library_threshold(root.level)))

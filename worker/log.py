"""Logging through structlog: human text on a terminal, one JSON object per line for collectors.

An event is a structlog call, `log.info("scoring run", records=12, seconds=0.4)`;
what holds for a stretch of work is bound once as context
(`structlog.contextvars.bind_contextvars(replica=...)`, `bound_contextvars(round=...)`)
and every event inside it carries it, graph_sync's per-mailbox events included,
without knowing about replicas or rounds. Both formats print the event's context
and fields: the JSON format as keys of the object, the text format as `key=value`
after the message (`time LEVEL logger: event key=value ...`).

structlog hands each event to the standard library (the event is the record's
message, the fields its `fields` attribute), so one handler formats Rapport's
events and the libraries' alike, and a test's log capture sees every record.
The configuration is static and made when this module is imported: worker's
modules take their logger from `get_logger` below; graph_sync, which may not
import worker, takes `structlog.stdlib.get_logger` and relies on its caller
(every entry point is a worker command) having imported this module first, else
structlog's unconfigured default would print its events to standard output.

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
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

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
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _context_first(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The bound context (replica, round, mailbox...) before the event's own fields,
    which win; merged when the event is logged, so a log capture sees it too."""
    return {**structlog.contextvars.get_contextvars(), **event_dict}


def _to_record(
    logger: WrappedLogger, method: str, event_dict: EventDict
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """structlog's last step: the stdlib call, with the event's fields under `fields`
    (one attribute, so a field can never collide with a LogRecord attribute)."""
    args, kwargs = structlog.stdlib.render_to_log_args_and_kwargs(logger, method, event_dict)
    if "extra" in kwargs:
        kwargs["extra"] = {"fields": kwargs["extra"]}
    return args, kwargs


structlog.configure(
    processors=[structlog.stdlib.filter_by_level, _context_first, _to_record],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Rapport's logger `name` (e.g. "rapport.worker")."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def _context_and_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The bound context, then the record's fields (they win), after the event: a
    library's record gets the context here, Rapport's brought it in its fields."""
    record: logging.LogRecord = event_dict["_record"]
    fields: dict[str, Any] = getattr(record, "fields", {})
    return {**event_dict, **structlog.contextvars.get_contextvars(), **fields}


def _json_order(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """`at`, `level`, `logger` and `event` first, as a reader scans them."""
    first = {key: event_dict.pop(key) for key in ("at", "level", "logger", "event")}
    return {**first, **event_dict}


def _error_name(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """An exception logged in JSON is named, not traced (the text format keeps the trace)."""
    exc_info = event_dict.pop("exc_info", None)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event_dict["error"] = exc_info[0].__name__
    return event_dict


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


def _text_line(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> str:
    """`event key=value ...` (the handler's format puts time, level and logger before)."""
    event = str(event_dict.pop("event"))
    event_dict.pop("exc_info", None)  # the formatter appends the trace
    fields = " ".join(f"{key}={_logfmt_value(value)}" for key, value in event_dict.items())
    return f"{event} {fields}" if fields else event


def formatter(fmt: str) -> logging.Formatter:
    """The handler's formatter: "json", else text."""
    remove_meta = structlog.stdlib.ProcessorFormatter.remove_processors_meta
    if fmt == "json":
        json_chain: list[Processor] = [
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="at"),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            _context_and_fields,
            _json_order,
        ]
        return structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=json_chain,
            processors=[remove_meta, _error_name, structlog.processors.JSONRenderer(default=str)],
        )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[_context_and_fields],
        processors=[remove_meta, _text_line],
        keep_exc_info=True,
        fmt=TEXT_FORMAT,
    )


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
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    handler.addFilter(LibraryThreshold(library_threshold(root.level)))

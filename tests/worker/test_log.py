"""Rapport's log lines (structlog through the standard library): the fields of an event and
of its bound context, in the JSON and text formats, for Rapport's events and libraries'."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest
import structlog

from worker.log import LibraryThreshold, formatter, get_logger, library_threshold

Capture = Callable[[str], io.StringIO]


@pytest.fixture
def capture() -> Iterator[Capture]:
    """A handler with the format's formatter on `rapport.test` and `lib.test`, as
    configure_logging puts one on the root logger (which stays untouched here)."""
    loggers = [logging.getLogger(name) for name in ("rapport.test", "lib.test")]
    handlers: list[logging.Handler] = []

    def start(fmt: str) -> io.StringIO:
        sink = io.StringIO()
        handler = logging.StreamHandler(sink)
        handler.setFormatter(formatter(fmt))
        handler.addFilter(LibraryThreshold(library_threshold(logging.INFO)))
        handlers.append(handler)
        for logger in loggers:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
        return sink

    yield start
    for logger in loggers:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def test_json_events_carry_their_fields_and_the_bound_context(capture: Capture) -> None:
    sink = capture("json")
    log = get_logger("rapport.test")
    with structlog.contextvars.bound_contextvars(replica="w1", round=7):
        log.info("scoring run", records=2, by_state={"good": 2}, **{"from": "a"})
        logging.getLogger("lib.test").warning("a library's %s", "warning")
    log.warning("after the round", replica="w1")

    first, library, after = (json.loads(line) for line in sink.getvalue().splitlines())
    assert list(first)[:4] == ["at", "level", "logger", "event"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", first["at"])
    assert first | {"at": None} == {
        "at": None,
        "level": "info",
        "logger": "rapport.test",
        "event": "scoring run",
        "replica": "w1",
        "round": 7,
        "records": 2,
        "by_state": {"good": 2},
        "from": "a",
    }
    assert library["event"] == "a library's warning" and library["replica"] == "w1"
    assert "round" not in after  # the context ended with its block


def test_an_exception_is_named_in_json_and_traced_in_text(capture: Capture) -> None:
    json_sink, text_sink = capture("json"), capture("text")
    try:
        raise KeyError("x")
    except KeyError:
        get_logger("rapport.test").exception("job failed", job="sync")

    event = json.loads(json_sink.getvalue())
    assert event["error"] == "KeyError" and event["job"] == "sync"
    assert "Traceback" not in json_sink.getvalue()
    assert "job failed job=sync\nTraceback" in text_sink.getvalue()


def test_text_lines_put_the_fields_after_the_event(capture: Capture) -> None:
    sink = capture("text")
    with structlog.contextvars.bound_contextvars(replica="w1"):
        get_logger("rapport.test").info(
            "sync round", mailboxes=3, ok=True, error="two words", by_status={"ok": 3}
        )
    get_logger("rapport.test").info("another run holds the store (%s)", "pid 12")

    first, second = sink.getvalue().splitlines()
    assert re.fullmatch(
        r"\S+ \S+ INFO rapport.test: sync round replica=w1 mailboxes=3 ok=true "
        r'error="two words" by_status=\{"ok":3\}',
        first,
    )
    assert second.endswith("INFO rapport.test: another run holds the store (pid 12)")


def test_libraries_speak_from_warning_unless_debug_asks(capture: Capture) -> None:
    sink = capture("text")
    logging.getLogger("lib.test").info("GET https://graph.example/ 200")
    get_logger("rapport.test").debug("rapport's own debug")

    assert sink.getvalue().splitlines()[0].endswith("rapport's own debug")
    assert "graph.example" not in sink.getvalue()
    assert library_threshold(logging.DEBUG) == logging.DEBUG
    assert library_threshold(logging.ERROR) == logging.ERROR

"""Headless Chromium for the web app's browser tests and tools/web-screenshots.

The browser is Debian's `chromium` package (/usr/bin/chromium, which .ci/run installs),
driven by Playwright from PyPI: Playwright cannot download a browser of its own here, so
it is always given the system one, with a fresh profile each launch and every background
service (updates, sync, first-run, QUIC) switched off, so that it talks to the app only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Where screenshots of a failed browser test go: $RAPPORT_ARTIFACTS (CI keeps it), else
# tests/web/artifacts/ (ignored by git).
DEFAULT_ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


class ChromiumMissing(RuntimeError):
    """The system Chromium is not installed."""


def artifacts_dir() -> Path:
    return Path(os.environ.get("RAPPORT_ARTIFACTS") or DEFAULT_ARTIFACTS)


def missing() -> str | None:
    """Why the system Chromium cannot be launched (None: it is installed)."""
    if CHROMIUM.is_file():
        return None
    return (
        f"no Chromium at {CHROMIUM}: install Debian's package "
        "(apt-get install chromium; .ci/run does)"
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, closed when the block ends."""
    why = missing()
    if why:
        raise ChromiumMissing(why)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(ARGS), headless=True, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot_pages(browser: Browser, name: str) -> list[Path]:
    """A full-page screenshot of every page open in `browser`, named after `name`
    (a test id), in artifacts_dir(); the paths written."""
    into = artifacts_dir()
    into.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", name).strip("_")
    pages: list[Page] = [page for context in browser.contexts for page in context.pages]
    written = []
    for number, page in enumerate(pages):
        path = into / f"{stem}-{number}.png"
        try:
            page.screenshot(path=str(path), full_page=True, timeout=10_000)
        except Exception:  # a crashed or closed page: the others are still worth having
            continue
        written.append(path)
    return written

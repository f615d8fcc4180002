"""The web tests' seeded book (tests/web/book.py) and seller A's browser against it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.web.book import SELLER_A, app_for, seed
from tests.web.server import serving


@pytest.fixture
def book(engine: Engine) -> Engine:
    seed(engine)
    return engine


@pytest.fixture
def seller_a(book: Engine) -> Iterator[httpx.Client]:
    """Seller A's browser, against a real server on a loopback socket."""
    with serving(app_for(book, SELLER_A)) as web:
        yield web

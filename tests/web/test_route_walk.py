"""Every route of the app, as each role: seller A (u1, team east), seller B (u3, team
west) and a manager, through a real server. A record route answers 200 for a record
the role may see and 404 for one it may not, without its name; a listing shows
exactly the visible deals. A new route with a path parameter this walk does not know
fails the walk, so no route escapes it."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.engine import Engine
from starlette.routing import Mount

from tests.web.book import ROLES, app_for, seed
from tests.web.server import serving

# The two deals the walk watches: seller A's (team east) and seller B's (team west).
DEALS = {"o1": "Deal o1", "o8": "Deal o8"}
SEES = {"seller_a": {"o1"}, "seller_b": {"o8"}, "manager": {"o1", "o8"}}
# Routes that list deals: each must show every visible one of the two.
LISTINGS = {"/portfolio", "/portfolio.csv", "/pipeline", "/api/portfolio", "/api/pipeline"}
MOUNT_PROBES = {"/static": "/static/rapport.css"}
PARAMETER = re.compile(r"{(\w+)}")


def walk(app: FastAPI) -> list[tuple[str, str | None]]:
    """(URL, the deal it is about or None) for every GET route of the app."""
    urls: list[tuple[str, str | None]] = []
    for route in iter_route_contexts(app.routes):
        path = route.path
        assert path is not None, route
        if isinstance(route.original_route, Mount):
            urls.append((MOUNT_PROBES[path], None))
            continue
        assert route.methods is not None and route.methods <= {"GET", "HEAD"}, path
        names = PARAMETER.findall(path)
        if not names:
            urls.append((path, None))
            continue
        assert set(names) == {"record_type", "record_id"}, f"walk: teach it {path}"
        for deal in DEALS:
            url = path.replace("{record_type}", "opportunity").replace("{record_id}", deal)
            urls.append((url, deal))
    return urls


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_route_as_each_role_shows_only_what_the_role_may_see(
    engine: Engine, role: str
) -> None:
    seed(engine)
    app = app_for(engine, ROLES[role])
    urls = walk(app)
    assert len(urls) >= 11  # the pages, the API, the CSV, the stylesheet, OpenAPI

    with serving(app) as web:
        answers = {url: web.get(url, follow_redirects=True) for url, _ in urls}

    for url, deal in urls:
        answer, hidden = answers[url], set(DEALS) - SEES[role]
        if deal is not None:
            assert answer.status_code == (200 if deal in SEES[role] else 404), (role, url)
        else:
            assert answer.status_code == 200, (role, url)
        for other in hidden:
            assert DEALS[other] not in answer.text, (role, url, other)
        if url in LISTINGS:
            for seen in SEES[role]:
                assert DEALS[seen] in answer.text, (role, url, seen)

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

# The records the walk watches: seller A's deal (team east), seller B's (team west), and
# a contact of no account, so with no owner (managers only).
RECORDS = {
    ("opportunity", "o1"): "Deal o1",
    ("opportunity", "o8"): "Deal o8",
    ("contact", "c4"): "Gus Moor",
}
SEES = {
    "seller_a": {("opportunity", "o1")},
    "seller_b": {("opportunity", "o8")},
    "manager": set(RECORDS),
}
# Routes that list records: each must show every visible one (the pipeline: deals only).
LISTINGS = {"/portfolio", "/portfolio.csv", "/api/portfolio"}
PIPELINES = {"/pipeline", "/api/pipeline"}
MOUNT_PROBES = {"/static": "/static/rapport.css"}
PARAMETER = re.compile(r"{(\w+)}")


Record = tuple[str, str]


def walk(app: FastAPI) -> list[tuple[str, Record | None]]:
    """(URL, the record it is about or None) for every GET route of the app."""
    urls: list[tuple[str, Record | None]] = []
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
        for record in RECORDS:
            url = path.replace("{record_type}", record[0]).replace("{record_id}", record[1])
            urls.append((url, record))
    return urls


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_route_as_each_role_shows_only_what_the_role_may_see(
    engine: Engine, role: str
) -> None:
    seed(engine)
    app = app_for(engine, ROLES[role])
    urls = walk(app)
    assert len(urls) >= 13  # the pages, the API, the CSV, the stylesheet, OpenAPI

    with serving(app) as web:
        answers = {url: web.get(url, follow_redirects=True) for url, _ in urls}

    for url, record in urls:
        answer, hidden = answers[url], set(RECORDS) - SEES[role]
        if record is not None:
            assert answer.status_code == (200 if record in SEES[role] else 404), (role, url)
        else:
            assert answer.status_code == 200, (role, url)
        for other in hidden:
            assert RECORDS[other] not in answer.text, (role, url, other)
        expected = SEES[role] if url in LISTINGS else set()
        if url in PIPELINES:
            expected = {seen for seen in SEES[role] if seen[0] == "opportunity"}
        for seen in expected:
            assert RECORDS[seen] in answer.text, (role, url, seen)

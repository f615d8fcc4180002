"""The admin page through a real server, on SQLite and PostgreSQL: the settings with what
each allows, a change with its audit row (the admin named), a refusal in one line with
`rapport settings set`'s words, the introduction template from the form's text, consent
and mailbox status and the last runs; sellers get 403; the trial's forms need the CSRF
token too (a page on another site must not change settings on this machine)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.web.book import SELLER_A, app_for
from tests.web.entra import csrf_token
from tests.web.server import serving
from web.app import trial_app
from web.identity import Viewer
from worker.admin_settings import current_settings

ADMIN = Viewer(system_user_id=None, name="Ada Admin", is_admin=True, address="ada@ours.example")


@pytest.fixture
def admin(book: Engine) -> Iterator[httpx.Client]:
    with serving(app_for(book, ADMIN)) as web:
        yield web


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, element_id
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def _change(web: httpx.Client, key: str, value: str) -> httpx.Response:
    token = csrf_token(web.get("/admin").text)
    return web.post("/admin/settings", data={"key": key, "value": value, "csrf_token": token})


def test_the_page_shows_every_setting_status_and_runs(admin: httpx.Client) -> None:
    page = admin.get("/admin")

    assert page.status_code == 200
    assert _text(page.text, "current-influence-email") == "6"
    assert _text(page.text, "current-switch-show-health") == "on"
    for section in ("settings", "audit", "consent", "mailboxes", "runs"):
        assert f'<section id="{section}"' in page.text
    assert 'id="form-grading-good-min"' in page.text and 'id="save-grading-good-min"' in page.text


def test_a_change_is_stored_audited_and_shown(admin: httpx.Client, book: Engine) -> None:
    answer = _change(admin, "grading.good_min", "70")
    page = admin.get(answer.headers["location"])

    assert answer.status_code == 303
    assert current_settings(book)["grading.good_min"] == 70
    assert _text(page.text, "current-grading-good-min") == "70"
    audit = re.search(r'id="audit-table".*?</table>', page.text, re.S)
    assert audit is not None
    assert "ada@ours.example" in audit.group(0) and "grading.good_min" in audit.group(0)
    assert "web admin" in audit.group(0)


def test_a_refused_value_is_one_line_naming_the_key_and_nothing_changes(
    admin: httpx.Client, book: Engine
) -> None:
    answer = _change(admin, "grading.fair_min", "75")

    assert answer.status_code == 400
    assert _text(answer.text, "setting-error") == (
        "grading.fair_min: 75 is not allowed; expected an integer 1-59"
    )
    assert current_settings(book)["grading.fair_min"] == 40


def test_the_template_is_set_from_the_form_text_with_its_placeholders_checked(
    admin: httpx.Client, book: Engine
) -> None:
    good = "Hi {introducer_name}, could you introduce me to {person_name}?"
    refused = _change(admin, "introduction.template", "Hi {nobody}")
    accepted = _change(admin, "introduction.template", good)

    assert refused.status_code == 400 and "{nobody}" in unescape(refused.text)
    assert accepted.status_code == 303
    assert current_settings(book)["introduction.template"] == good


def test_a_seller_gets_403_and_no_admin_link(book: Engine) -> None:
    # The admin form as a seller, with the session's token, is in the route walk.
    with serving(app_for(book, SELLER_A)) as seller:
        portfolio = seller.get("/portfolio")
        page = seller.get("/admin")

    assert page.status_code == 403 and 'id="nav-admin"' not in portfolio.text
    assert "admins group" in page.text


def test_the_trial_form_needs_the_csrf_token_too(book: Engine) -> None:
    with serving(trial_app(book)) as trial:
        forged = trial.post("/admin/settings", data={"key": "influence.email", "value": "9"})
        token = csrf_token(trial.get("/admin").text)
        wrong = trial.post(
            "/admin/settings",
            data={"key": "influence.email", "value": "9", "csrf_token": token[::-1]},
        )
        right = trial.post(
            "/admin/settings", data={"key": "influence.email", "value": "9", "csrf_token": token}
        )

    assert forged.status_code == 403 and "csrf_token" in forged.text
    assert wrong.status_code == 403
    assert right.status_code == 303 and current_settings(book)["influence.email"] == 9

"""A record's drill-down: the pure shaping (tables) and `rapport health timeline` on a
scored store on SQLite and PostgreSQL (weekly KPIs, interactions newest first with
who took part on each side, the deal team's scope, bounds, metadata only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from insights import timeline
from insights.notice import EMPLOYMENT_NOTICE
from storage.crm_tables import Opportunity
from tests import factories as f
from tests.conftest import DATABASES, scored_private_store
from tests.worker.cli_runner import run_cli

WEEKLY = [
    {
        "week_start": f"2026-11-{day:02d}",
        "emails_sent": n,
        "emails_received": 0,
        "meetings": 1,
        "phone_calls": 0,
    }
    for day, n in ((16, 3), (2, 1), (9, 2))
]


@pytest.mark.parametrize(
    ("weeks", "starts"),
    [
        (3, ["2026-11-02", "2026-11-09", "2026-11-16"]),
        (2, ["2026-11-09", "2026-11-16"]),
        (13, ["2026-11-02", "2026-11-09", "2026-11-16"]),
        (0, []),
    ],
)
def test_week_series_is_the_last_weeks_oldest_first(weeks: int, starts: list[str]) -> None:
    series = timeline.week_series(WEEKLY, weeks)

    assert [week["week_start"] for week in series] == starts
    assert all(set(week) == {"week_start", *timeline.WEEK_FIELDS} for week in series)


def _party(key: str, side: str, role: str, name: str | None, rid: str) -> dict[str, Any]:
    kind = "system_user" if side == "internal" else "contact"
    return {
        "interaction_key": key,
        "side": side,
        "role": role,
        "name": name,
        "record_type": kind,
        "record_id": rid,
    }


def test_interactions_come_newest_first_with_each_side_by_role() -> None:
    at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    items = [
        {
            "key": k,
            "kind": "email",
            "direction": d,
            "occurred_at": at.replace(hour=h),
            "duration_minutes": 0.0,
            "planned": False,
            "source": "crm",
        }
        for k, d, h in (("m1", "outbound", 9), ("m2", "inbound", 11))
    ]
    parties = [
        _party("m1", "external", "cc", "Zoe Cc", "c9"),
        _party("m1", "external", "to", "Dana Ruiz", "c1"),
        _party("m1", "internal", "from", "Ana Seller", "u1"),
        _party("m2", "external", "from", None, "c-gone"),
    ]
    entries = timeline.interaction_entries(items, parties)

    assert [e["direction"] for e in entries] == ["inbound", "outbound"]
    assert [p["name"] for p in entries[1]["their_side"]] == ["Dana Ruiz", "Zoe Cc"]
    assert entries[1]["our_side"] == [
        {"record_type": "system_user", "record_id": "u1", "name": "Ana Seller", "role": "from"}
    ]
    assert entries[0]["our_side"] == [] and entries[0]["their_side"][0]["name"] is None


# --- `rapport health timeline` on a scored store ---------------------------------------


@pytest.fixture(scope="module", params=DATABASES)
def scored_once(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[tuple[Engine, str]]:
    """The book seeded and scored once per database (what `rapport run --once` calls); every
    test here only reads it: (store, its URL)."""
    directory = tmp_path_factory.mktemp("timeline")
    with scored_private_store(request.param, directory, sqlite_template, _seed) as scored:
        yield scored


@pytest.fixture
def scored(scored_once: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The module's scored book, read by `rapport` through RAPPORT_DATABASE_URL."""
    engine, url = scored_once
    monkeypatch.setenv("RAPPORT_DATABASE_URL", url)
    return engine


def _seed(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.user(engine, "u2", "ben@ours.example", "Ben Seller")
    f.user(engine, "u3", "cleo@ours.example", "Cleo West", team="west")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    f.contact(engine, "c2", "eli@contoso.example", "Eli Park", "a1")
    f.insert(
        engine,
        Opportunity,
        {
            "id": "o1",
            "name": "Contoso renewal",
            "account_id": "a1",
            "owner_id": "u1",
            "customer_contact_id": "c1",
            "status": "open",
        },
    )
    f.email(
        engine,
        sender="ana@ours.example",
        to=["dana@contoso.example"],
        at=f.days_ago(2),
        conversation="t1",
    )
    f.email(
        engine,
        sender="dana@contoso.example",
        to=["ana@ours.example"],
        cc=["eli@contoso.example"],
        at=f.days_ago(1.5),
        conversation="t1",
    )
    f.email(engine, sender="cleo@ours.example", to=["dana@contoso.example"], at=f.days_ago(3))
    f.email(engine, sender="ben@ours.example", to=["eli@contoso.example"], at=f.days_ago(10))
    f.email(
        engine,
        sender="cleo@ours.example",
        to=["eli@contoso.example"],
        at=f.days_ago(4),
        regarding=("opportunity", "o1"),
    )
    f.meeting(
        engine,
        organizer="ana@ours.example",
        attendees={"dana@contoso.example": "accepted"},
        start=f.days_ago(20),
        minutes=45,
    )
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(200))


def _timeline(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    ran = run_cli(capsys, "health", "timeline", *args, "--json")
    assert ran.code == 0, ran.err
    payload: dict[str, Any] = json.loads(ran.out)
    return payload


def _seen(payload: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            item["occurred_at"][:10],
            item["kind"],
            ",".join(p["name"] for p in item["our_side"])
            + ">"
            + ",".join(p["name"] for p in item["their_side"]),
        )
        for item in payload["interactions"]
    ]


def test_a_contacts_timeline(scored: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    payload = _timeline(capsys, "dana@contoso.example")

    assert payload["notice"] == EMPLOYMENT_NOTICE
    assert (payload["record_type"], payload["record_id"], payload["name"]) == (
        "contact",
        "c1",
        "Dana Ruiz",
    )
    assert _seen(payload) == [
        ("2026-11-19", "email", "Ana Seller>Dana Ruiz,Eli Park"),  # from, then cc
        ("2026-11-18", "email", "Ana Seller>Dana Ruiz"),
        ("2026-11-17", "email", "Cleo West>Dana Ruiz"),
        ("2026-10-31", "meeting", "Ana Seller>Dana Ruiz"),
    ]  # newest first; the email 200 days ago is before the 13 weeks shown
    assert [i["direction"] for i in payload["interactions"][:2]] == ["inbound", "outbound"]
    weeks = payload["weeks"]
    assert len(weeks) == 13 and weeks[-1]["week_start"].startswith("2026-11-16")
    assert (weeks[-1]["emails_sent"], weeks[-1]["emails_received"]) == (2, 1)
    assert payload["since"].startswith(weeks[0]["week_start"][:10])


def test_a_deals_timeline_keeps_to_its_team_and_what_regards_it(
    scored: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _timeline(capsys, "opportunity:o1")

    # Cleo (another team) writing to Dana is not the deal's; her email regarding it is.
    assert _seen(payload) == [
        ("2026-11-19", "email", "Ana Seller>Dana Ruiz,Eli Park"),
        ("2026-11-18", "email", "Ana Seller>Dana Ruiz"),
        ("2026-11-16", "email", "Cleo West>Eli Park"),
        ("2026-10-31", "meeting", "Ana Seller>Dana Ruiz"),
    ]


def test_an_accounts_timeline_covers_its_contacts(
    scored: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _timeline(capsys, "account:a1")

    assert len(payload["interactions"]) == 6
    assert ("2026-11-10", "email", "Ben Seller>Eli Park") in _seen(payload)


def test_weeks_and_limit_bound_the_timeline(
    scored: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    two_weeks = _timeline(capsys, "contact:c1", "--weeks", "2")
    newest_two = _timeline(capsys, "contact:c1", "--limit", "2")

    assert [w["week_start"][:10] for w in two_weeks["weeks"]] == ["2026-11-09", "2026-11-16"]
    assert [s[0] for s in _seen(two_weeks)] == ["2026-11-19", "2026-11-18", "2026-11-17"]
    assert [s[0] for s in _seen(newest_two)] == ["2026-11-19", "2026-11-18"]


def test_metadata_only(scored: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    payload = _timeline(capsys, "account:a1")
    keys = {key for item in payload["interactions"] for key in item}

    assert keys == {
        "kind",
        "direction",
        "occurred_at",
        "duration_minutes",
        "planned",
        "source",
        "our_side",
        "their_side",
    }
    assert "@" not in json.dumps(payload["interactions"])  # names, never addresses


def test_text_output(scored: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_cli(capsys, "health", "timeline", "contact:c1", "--limit", "1")

    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0] == EMPLOYMENT_NOTICE and "contact Dana Ruiz (c1)" in lines[1]
    assert "1 interactions since" in ran.out and "(the limit)" in ran.out
    assert "email inbound: us Ana Seller; them Dana Ruiz, Eli Park" in ran.out


@pytest.mark.parametrize(
    ("args", "starts"),
    [
        (("contact:c1", "--weeks", "14"), "rapport: --weeks: 14 is not allowed"),
        (("contact:c1", "--weeks", "0"), "rapport: --weeks: 0 is not allowed"),
        (("contact:c1", "--limit", "0"), "rapport: --limit: 0 is not allowed"),
        (("contact:nobody",), "rapport: record: no contact with id 'nobody'"),
        (("deal:o1",), "rapport: record: 'deal:o1' is not allowed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    scored: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], starts: str
) -> None:
    ran = run_cli(capsys, "health", "timeline", *args)

    assert ran.code == 2, ran.err
    assert ran.err.startswith(starts) and ran.err.count("\n") == 1, ran.err

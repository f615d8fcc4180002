"""Introduction requests: the template's placeholders, choosing the introducer, the
account-level views (scenario tables), and `rapport introducers draft` / `account`
and `rapport settings set introduction.template` on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from insights import introductions as intro
from insights.notice import EMPLOYMENT_NOTICE
from tests import factories as f
from tests.conftest import DATABASES, scored_private_store
from tests.worker.cli_runner import run_cli

AT = datetime(2026, 11, 10, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        ("Hi {introducer_first_name}, meet {person_name}", None),
        ("Subject: {company}\n\n{{literal}} braces by {requester_name}", None),
        ("Hi {introducer_nmae}", "unknown placeholder {introducer_nmae}; allowed: {introducer_"),
        ("Hi {}", "unknown placeholder {}; allowed:"),
        ("Hi {0}", "unknown placeholder {0}; allowed:"),
        ("{strength:>5}", "unknown placeholder {strength:>5}; allowed:"),
        ("{company!r}", "unknown placeholder {company!r}; allowed:"),
        ("{company.__class__}", "unknown placeholder {company.__class__}; allowed:"),
        ("Hi {person_name", "introduction.template: expected '}' before end of string; write {{"),
        ("   \n", "introduction.template: the template is empty"),
    ],
)
def test_template_placeholders_are_validated(template: str, refusal: str | None) -> None:
    if refusal is None:
        assert intro.validate_template(template) == template
        return
    with pytest.raises(intro.TemplateError) as refused:
        intro.validate_template(template)
    assert refusal in str(refused.value) and "\n" not in str(refused.value)


def test_the_default_template_is_valid_and_names_no_content() -> None:
    assert set(intro.template_fields(intro.DEFAULT_TEMPLATE)) <= set(intro.PLACEHOLDERS)


ROWS = [
    {"system_user_id": "u-me", "email": "me@ours.example", "full_name": "Me Seller"},
    {"system_user_id": "u-ana", "email": "Ana@ours.example", "full_name": "Ana Seller"},
    {"system_user_id": "u-bo", "email": "bo@ours.example", "full_name": "Bo Colleague"},
]


@pytest.mark.parametrize(
    ("requester", "named", "chosen"),
    [
        ("u-x", None, "u-me"),  # the strongest
        ("u-me", None, "u-ana"),  # never yourself: the next one
        ("u-me", "bo@ours.example", "u-bo"),
        ("u-me", " ANA@ours.example ", "u-ana"),  # addresses compare case-blind
        ("u-me", "u-bo", "u-bo"),  # or by id
        ("u-me", "u-me", None),  # naming yourself finds nobody
        ("u-me", "zed@ours.example", None),
    ],
)
def test_choose_introducer(requester: str, named: str | None, chosen: str | None) -> None:
    found = intro.choose_introducer(ROWS, requester_id=requester, named=named)

    assert (None if found is None else found["system_user_id"]) == chosen


def test_draft_fills_names_strength_and_date_only() -> None:
    introducer = {
        "full_name": "Ana Seller",
        "email": "ana@ours.example",
        "strength": 72,
        "strength_label": "strong",
        "last_interaction_at": AT,
    }
    made = intro.draft_introduction(
        "Subject: Meet {person_first_name}\n\n{introducer_first_name}: {strength} "
        "({strength_label}) since {last_interaction_date} at {company}, {{asked}} {today}",
        requester=intro.Colleague("Me Seller", "me@ours.example"),
        introducer=introducer,
        person_name="Dana Ruiz",
        company="Contoso",
        today=date(2026, 11, 20),
    )

    assert made.subject == "Meet Dana"
    assert made.body == "Ana: 72 (strong) since 2026-11-10 at Contoso, {asked} 2026-11-20"
    assert made.recipient == intro.Colleague("Ana Seller", "ana@ours.example")


@pytest.mark.parametrize(
    ("template", "subject", "body"),
    [
        ("Subject: Hello\n\nBody", "Hello", "Body"),
        ("subject:Hi there\nBody", "Hi there", "Body"),
        ("Body only", intro.DEFAULT_SUBJECT, "Body only"),
    ],
)
def test_split_subject(template: str, subject: str, body: str) -> None:
    assert intro.split_subject(template) == (subject, body)


def _row(user: str, contact: str, strength: int, days: int) -> dict[str, Any]:
    return {
        "system_user_id": user,
        "full_name": user.upper(),
        "email": f"{user}@ours.example",
        "record_id": contact,
        "person_name": contact.title(),
        "strength": strength,
        "strength_label": intro_label(strength),
        "last_interaction_at": AT - timedelta(days),
    }


def intro_label(strength: int) -> str:
    return "strong" if strength >= 60 else "moderate" if strength >= 30 else "weak"


@pytest.mark.parametrize(
    ("rows", "order"),
    [
        # The strongest single relationship wins over many weak ones.
        (
            [_row("ana", "c1", 70, 5), _row("bo", "c1", 40, 1), _row("bo", "c2", 45, 1)],
            ["ana", "bo"],
        ),
        # Equal strength: whoever knows more of its people.
        (
            [_row("ana", "c1", 50, 1), _row("bo", "c1", 50, 9), _row("bo", "c2", 20, 9)],
            ["bo", "ana"],
        ),
        # Equal strength and reach: the more recent acquaintance, then the id.
        (
            [_row("ana", "c1", 50, 9), _row("bo", "c2", 50, 1), _row("cy", "c3", 50, 1)],
            ["bo", "cy", "ana"],
        ),
    ],
)
def test_account_introducers(rows: list[dict[str, Any]], order: list[str]) -> None:
    ranked = intro.account_introducers(rows)

    assert [r["system_user_id"] for r in ranked] == order
    assert [r["rank"] for r in ranked] == list(range(1, len(order) + 1))


def test_account_introducer_names_who_they_know_best() -> None:
    ranked = intro.account_introducers([_row("bo", "c1", 40, 3), _row("bo", "c2", 45, 1)])

    assert ranked[0]["best_known"] == {"record_id": "c2", "name": "C2"}
    assert (ranked[0]["strength"], ranked[0]["contacts_known"]) == (45, 2)
    assert ranked[0]["last_interaction_at"] == AT - timedelta(1)


def _kpis(record_id: str, received: int, meetings: int, calls: int, days: int) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "name": record_id,
        "emails_received": received,
        "meetings_received": meetings,
        "phone_calls_received": calls,
        "emails_sent": 50,
        "last_activity_at": AT - timedelta(days),
    }


@pytest.mark.parametrize(
    ("contacts", "order"),
    [
        ([_kpis("c1", 3, 0, 0, 1), _kpis("c2", 1, 2, 1, 5)], ["c2", "c1"]),  # 4 beats 3
        ([_kpis("c1", 2, 0, 0, 5), _kpis("c2", 2, 0, 0, 1)], ["c2", "c1"]),  # tie: recent
        ([_kpis("c1", 0, 0, 0, 1), _kpis("c2", 1, 0, 0, 9)], ["c2"]),  # silent: left out
    ],
)
def test_customer_most_contacted(contacts: list[dict[str, Any]], order: list[str]) -> None:
    assert [r["record_id"] for r in intro.customer_most_contacted(contacts)] == order


# --- the commands on a scored store ---------------------------------------------------

DANA = "dana@contoso.example"
ELI = "eli@contoso.example"


def _thread(engine: Engine, colleague: str, customer: str, weeks: int) -> None:
    for week in range(weeks):
        at = f.days_ago(7 * week + 2)
        f.email(engine, sender=colleague, to=[customer], at=at, conversation=f"{colleague}{week}")
        f.email(
            engine,
            sender=customer,
            to=[colleague],
            at=at + timedelta(hours=3),
            conversation=f"{colleague}{week}",
        )


def _seed(engine: Engine) -> None:
    f.user(engine, "u-me", "me@ours.example", "Mia Seller")
    f.user(engine, "u-ana", "ana@ours.example", "Ana Field")
    f.user(engine, "u-bo", "bo@ours.example", "Bo Colleague")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", DANA, "Dana Ruiz", "a1")
    f.contact(engine, "c2", ELI, "Eli Park", "a1")
    _thread(engine, "ana@ours.example", DANA, 10)  # Ana knows Dana well
    _thread(engine, "bo@ours.example", DANA, 2)
    _thread(engine, "bo@ours.example", ELI, 4)


@pytest.fixture
def store(
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Engine:
    """The book seeded and scored for one test (`rapport run --once`), which may change it."""
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    _seed(engine)
    ran = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat(), "--json")
    assert ran.code == 0, ran.err
    return engine


@pytest.fixture(scope="module", params=DATABASES)
def scored_once(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[tuple[Engine, str]]:
    """The same book seeded and scored once per database (what `rapport run --once` calls),
    for the tests that only read it: (store, its URL)."""
    directory = tmp_path_factory.mktemp("introductions")
    with scored_private_store(request.param, directory, sqlite_template, _seed) as scored:
        yield scored


@pytest.fixture
def shared_store(scored_once: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The module's scored book, read by `rapport` through RAPPORT_DATABASE_URL."""
    engine, url = scored_once
    monkeypatch.setenv("RAPPORT_DATABASE_URL", url)
    return engine


def _draft(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    ran = run_cli(capsys, "introducers", "draft", *args, "--json")
    assert ran.code == 0, ran.err
    payload: dict[str, Any] = json.loads(ran.out)
    return payload


def test_draft_asks_the_strongest_introducer(
    shared_store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _draft(capsys, DANA, "--by", "me@ours.example")

    assert payload["notice"] == EMPLOYMENT_NOTICE
    assert payload["introducer"]["email"] == "ana@ours.example"
    assert payload["subject"] == "Introduction to Dana Ruiz at Contoso?"
    strength = payload["introducer"]["strength"]
    assert f"strength {strength} of 100" in " ".join(payload["body"].split())
    assert payload["introducer"]["last_interaction_at"][:10] in payload["body"]
    assert payload["body"].startswith("Hi Ana,") and payload["body"].rstrip().endswith("Mia")


def test_draft_to_a_named_colleague_and_never_to_yourself(
    shared_store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    named = _draft(capsys, "contact:c1", "--by", "u-me", "--to-colleague", "bo@ours.example")
    as_ana = _draft(capsys, "contact:c1", "--by", "ana@ours.example")

    assert named["introducer"]["email"] == "bo@ours.example"
    assert as_ana["introducer"]["email"] == "bo@ours.example"  # Ana is the strongest herself


def test_draft_as_eml_parses_back(
    shared_store: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "ask.eml"
    ran = run_cli(
        capsys,
        "introducers",
        "draft",
        DANA,
        "--by",
        "me@ours.example",
        "--format",
        "eml",
        "--out",
        str(out),
    )

    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[0] == EMPLOYMENT_NOTICE and str(out) in ran.out
    raw = out.read_bytes()
    assert b"\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"].addresses[0].addr_spec == "ana@ours.example"
    assert message["From"].addresses[0].display_name == "Mia Seller"
    assert message["Subject"] == "Introduction to Dana Ruiz at Contoso?"
    assert message["X-Unsent"] == "1" and message["X-Rapport-Notice"] == EMPLOYMENT_NOTICE
    assert message["Date"] is not None
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().startswith("Hi Ana,")


def test_draft_text_output(shared_store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_cli(capsys, "introducers", "draft", DANA, "--by", "me@ours.example")

    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0] == EMPLOYMENT_NOTICE
    assert lines[1:4] == [
        "From: Mia Seller <me@ours.example>",
        "To: Ana Field <ana@ours.example>",
        "Subject: Introduction to Dana Ruiz at Contoso?",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((DANA, "--by", "nobody@ours.example"), "--by: no system user has the id or address"),
        (
            (DANA, "--by", "u-me", "--to-colleague", "zed@x.example"),
            "--to-colleague: 'zed@x.example' is not an introducer of Dana Ruiz; introducers: ",
        ),
        (("account:a1", "--by", "u-me"), "record: 'account:a1' is not allowed"),
        ((DANA, "--by", "u-me", "--format", "pdf"), "'pdf' is not one of"),
    ],
)
def test_draft_bad_input_is_one_line(
    shared_store: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    ran = run_cli(capsys, "introducers", "draft", *args)

    assert ran.code == 2
    assert message in ran.err and "Traceback" not in ran.err


def _audit(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text("SELECT action, details FROM audit_event WHERE command = 'settings set'")
            )
        )


def test_admin_template_is_validated_stored_audited_and_used(
    store: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    typo = tmp_path / "typo.txt"
    typo.write_text("Hi {introducer_frist_name}")
    good = tmp_path / "good.txt"
    good.write_text("Subject: Intro to {person_name}?\n\n{introducer_name}, {strength_label}.\n")

    refused = run_cli(capsys, "settings", "set", "introduction.template", str(typo))
    missing = run_cli(capsys, "settings", "set", "introduction.template", str(tmp_path / "no"))
    assert refused.code == 2 and len(refused.err.strip().splitlines()) == 1
    assert "unknown placeholder {introducer_frist_name}; allowed: {introducer_name}" in refused.err
    assert missing.code == 2 and "cannot read" in missing.err
    assert _audit(store) == []

    stored = run_cli(capsys, "settings", "set", "introduction.template", str(good), "--json")
    assert stored.code == 0, stored.err
    assert [row[0] for row in _audit(store)] == ["setting_changed"]
    payload = _draft(capsys, DANA, "--by", "me@ours.example")
    assert payload["subject"] == "Intro to Dana Ruiz?"
    assert payload["body"] == "Ana Field, strong.\n"

    reset = run_cli(capsys, "settings", "set", "introduction.template", "default")
    assert reset.code == 0, reset.err
    assert _draft(capsys, DANA, "--by", "u-me")["body"].startswith("Hi Ana,")


def test_account_introducers_and_their_people_who_talk_to_us(
    shared_store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run_cli(capsys, "introducers", "account", "account:a1", "--json")

    assert ran.code == 0, ran.err
    payload = json.loads(ran.out)
    assert payload["notice"] == EMPLOYMENT_NOTICE and payload["name"] == "Contoso"
    ranked = [
        (r["email"], r["contacts_known"], r["best_known"]["name"]) for r in payload["introducers"]
    ]
    assert ranked == [("ana@ours.example", 1, "Dana Ruiz"), ("bo@ours.example", 2, "Eli Park")]
    people = [(p["name"], p["emails_received"]) for p in payload["most_contacted_by_them"]]
    assert people == [("Dana Ruiz", 12), ("Eli Park", 4)]
    text = run_cli(capsys, "introducers", "account", "a1")
    assert text.code == 0 and text.out.splitlines()[0] == EMPLOYMENT_NOTICE
    assert "Who knows Contoso best" in text.out
    unknown = run_cli(capsys, "introducers", "account", "a9")
    assert unknown.code == 2 and "account: no account with id 'a9'" in unknown.err


def test_settings_show_abridges_the_template(
    shared_store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    text = run_cli(capsys, "settings", "show")
    shown = _setting(run_cli(capsys, "settings", "show", "--json").out)

    assert text.code == 0 and "Hi {introducer_first_name}," not in text.out
    assert "(13 lines; --json shows all)" in " ".join(text.out.split())
    assert shown == intro.DEFAULT_TEMPLATE


def _setting(out: str) -> Any:
    rows = json.loads(out)["settings"]
    return next(row["value"] for row in rows if row["key"] == "introduction.template")

"""`rapport introducers` end to end: run a tick, then ask who knows whom.

The book is seeded and run once per module and database; each test reads and changes a
copy of its own (tests/store_copies.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import list_audit
from storage.crm_records import load_crm_snapshot
from storage.engine import session_scope
from storage.sync_tables import Mailbox
from tests import factories as f
from tests.store_copies import SeededStore
from tests.worker.cli_runner import Outcome, run_cli
from worker.admin_settings import current_settings
from worker.cli import commands
from worker.run.interactions import load_interactions
from worker.run.introducer_optout import change_opt_out
from worker.run.introducers import introducer_ranking, store_introducers
from worker.settings import Settings

NOW = f.NOW.isoformat()
ANA = ("u-ana", "ana@ours.example", "Ana Seller")  # weekly two-way thread with Dana
BO = ("u-bo", "bo@ours.example", "Bo Colleague")  # writes to Dana; she never answers
CY = ("u-cy", "cy@ours.example", "Cy Executive")  # excluded by configuration
DI = ("u-di", "di@ours.example", "Di Private")  # opts out
ED = ("u-ed", "ed@ours.example", "Ed Finance")  # mailbox in an excluded security group
DANA = "dana@contoso.example"
ROBIN = "robin@prospect.example"


def _thread(engine: Engine, colleague: str, customer: str, weeks: int) -> None:
    for week in range(weeks):
        at = f.days_ago(7 * week + 2)
        f.email(engine, sender=colleague, to=[customer], at=at, conversation=f"{colleague}-{week}")
        f.email(
            engine,
            sender=customer,
            to=[colleague],
            at=at + (f.days_ago(0) - f.days_ago(0.2)),
            conversation=f"{colleague}-{week}",
        )


def _seed(engine: Engine) -> None:
    for user_id, email, name in (ANA, BO, CY, DI, ED):
        f.user(engine, user_id, email, name)
    f.contact(engine, "c-dana", DANA, "Dana Ruiz")
    f.lead(engine, "l-robin", ROBIN, "Robin Vale", owner=BO[0])
    _thread(engine, ANA[1], DANA, 10)
    for days in (1, 4, 9):
        f.email(engine, sender=BO[1], to=[DANA], at=f.days_ago(days))
    for colleague in (CY[1], DI[1], ED[1]):
        _thread(engine, colleague, DANA, 12)
    _thread(engine, BO[1], ROBIN, 3)
    f.insert(
        engine,
        Mailbox,
        {
            "id": "graph-ed",
            "tenant_id": "tenant-1",
            "system_user_id": ED[0],
            "status": "out_of_scope",
            "decision_reason": "member of an excluded group",
        },
    )


def _seed_and_run(engine: Engine) -> None:
    """The book, and one tick over it as `rapport run --once` runs it, with Cy excluded."""
    _seed(engine)
    with pytest.MonkeyPatch.context() as environment:
        _environment(environment, engine.url.render_as_string(hide_password=False))
        summary = commands.run_once(engine, Settings(), f.NOW, interactive=False)
    assert summary["exit_code"] == 0, summary


def _environment(environment: pytest.MonkeyPatch, database_url: str) -> None:
    environment.setenv("RAPPORT_DATABASE_URL", database_url)
    environment.setenv("RAPPORT_EXCLUDED_USERS", CY[1])


@pytest.fixture(scope="module")
def ran_once(tmp_path_factory: pytest.TempPathFactory) -> SeededStore:
    """The book seeded and run once per module and database (tests/store_copies.py)."""
    return SeededStore(_seed_and_run, tmp_path_factory.mktemp("introducers_cli"))


@pytest.fixture
def store(
    engine: Engine, database_url: str, ran_once: SeededStore, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    """The book after one run, in this test's own store (a copy of the module's)."""
    _environment(monkeypatch, database_url)
    return ran_once.copy_into(engine)


def _run(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    ran = run_cli(capsys, "run", "--once", "--now", NOW, "--json")
    assert ran.code == 0, ran.err
    summary: dict[str, Any] = json.loads(ran.out)
    return summary


def _show(capsys: pytest.CaptureFixture[str], record: str) -> dict[str, Any]:
    shown = run_cli(capsys, "introducers", "show", record, "--json")
    assert shown.code == 0, shown.err
    payload: dict[str, Any] = json.loads(shown.out)
    return payload


def _emails(payload: dict[str, Any]) -> list[str]:
    return [row["email"] for row in payload["introducers"]]


def _stored_colleagues(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.text("SELECT system_user_id FROM introducer")).scalars())


def _introducer_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM introducer")).scalar_one())


def _one_line_error(outcome: Outcome, fragment: str) -> None:
    assert outcome.code == 2
    assert outcome.err.count("\n") == 1 and fragment in outcome.err, outcome.err


def test_show_ranks_colleagues_with_name_email_and_strength_only(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _show(capsys, "contact:c-dana")

    assert payload["enabled"] is True
    assert payload["name"] == "Dana Ruiz"
    assert _emails(payload) == [DI[1], ANA[1], BO[1]]
    _di, ana, bo = payload["introducers"]
    assert ana == {
        "rank": 2,
        "name": ANA[2],
        "email": ANA[1],
        "strength": ana["strength"],
        "strength_label": "strong",
    }
    assert bo["strength_label"] == "weak" and bo["strength"] < ana["strength"]

    table = run_cli(capsys, "introducers", "show", DANA.upper())
    assert table.code == 0, table.err
    assert "Ana Seller" in table.out and ANA[1] in table.out and "strong" in table.out
    assert "Bo Colleague" in table.out


def test_leads_have_introducers_too(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert _emails(_show(capsys, "lead:l-robin")) == [BO[1]]
    assert _emails(_show(capsys, ROBIN)) == [BO[1]]


def test_excluded_and_group_excluded_colleagues_never_appear(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not {CY[0], ED[0]} & _stored_colleagues(store)
    shown = run_cli(capsys, "introducers", "show", "contact:c-dana")
    assert CY[2] not in shown.out and ED[2] not in shown.out
    # Di knows Dana best of all, until she opts out.
    assert _emails(_show(capsys, "contact:c-dana"))[0] == DI[1]


def test_an_exclusion_added_after_a_run_hides_the_colleague_at_once(
    store: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ANA[0] in _stored_colleagues(store)

    monkeypatch.setenv("RAPPORT_EXCLUDED_USERS", f"{CY[1]},{ANA[0]}")
    assert ANA[1] not in _emails(_show(capsys, "contact:c-dana"))

    _run(capsys)
    assert ANA[0] not in _stored_colleagues(store)


def test_opting_out_removes_a_colleague_now_and_in_every_later_run(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert DI[0] in _stored_colleagues(store)

    out = run_cli(capsys, "introducers", "opt-out", f"  {DI[1].upper()} ", "--json")
    assert out.code == 0, out.err
    change = json.loads(out.out)
    assert change["opted_out"] and change["changed"] and change["introducer_rows_removed"] == 1
    assert DI[0] not in _stored_colleagues(store)
    assert DI[1] not in _emails(_show(capsys, DANA))

    _run(capsys)
    assert DI[0] not in _stored_colleagues(store)
    again = run_cli(capsys, "introducers", "opt-out", DI[1])
    assert again.code == 0 and "already" in again.out

    assert run_cli(capsys, "introducers", "opt-in", DI[1]).code == 0
    _run(capsys)
    assert _emails(_show(capsys, DANA))[0] == DI[1]
    actions = [(e["action"], e["subject"]) for e in list_audit(store, since=None)]
    assert ("introducer_opted_out", f"system_user:{DI[0]}") in actions
    assert ("introducer_opted_in", f"system_user:{DI[0]}") in actions
    # The opt-out list is not an admin setting.
    settings = run_cli(capsys, "settings", "show", "--json")
    assert "opted_out" not in settings.out


def test_switching_who_knows_whom_off_clears_every_entry(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _stored_colleagues(store)

    assert run_cli(capsys, "settings", "set", "switch.who_knows_whom", "off").code == 0
    summary = _run(capsys)

    assert summary["introducers"]["enabled"] is False
    assert summary["introducers"]["written"]["removed"] > 0
    assert _stored_colleagues(store) == set()
    payload = _show(capsys, "contact:c-dana")
    assert payload["enabled"] is False and payload["introducers"] == []
    text = run_cli(capsys, "introducers", "show", "contact:c-dana")
    assert "switched off" in text.out

    assert run_cli(capsys, "settings", "set", "switch.who_knows_whom", "on").code == 0
    _run(capsys)
    assert _emails(_show(capsys, "contact:c-dana"))[:2] == [DI[1], ANA[1]]


def test_a_second_run_over_the_same_data_writes_nothing(
    store: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _introducer_rows(store)
    monkeypatch.setenv("RAPPORT_REGRADE_EVERY", "0")  # introducers are ranked at regrades

    second = _run(capsys)["introducers"]["written"]

    assert stored > 0
    assert second == {"added": 0, "updated": 0, "removed": 0, "unchanged": stored}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("show", "contact:nobody"), "record: no contact with id 'nobody'"),
        (("show", "nobody@nowhere.example"), "no contact or lead has the address"),
        (("show", "opportunity:o1"), "expected contact:ID, lead:ID or an email address"),
        (("opt-out", "nobody@ours.example"), "user: no system user has the address"),
        (("opt-in", "u-ana"), "expected a colleague's email address"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    store: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], fragment: str
) -> None:
    _one_line_error(run_cli(capsys, "introducers", *args), fragment)


def test_a_colleague_who_opts_out_while_a_run_scores_is_not_written(store: Engine) -> None:
    # The run reads the exclusions before it scores and ranks; Di opts out
    # before the run stores what it ranked.
    assert DI[0] in _stored_colleagues(store)
    with session_scope(store) as session:
        crm = load_crm_snapshot(session=session)
    ranking = introducer_ranking(
        store, now=f.NOW, excluded_users=(CY[1],), crm=crm, admin=current_settings(store)
    )
    assert ranking is not None
    rows = ranking.rows(load_interactions(store))
    assert DI[0] in {row.system_user_id for row in rows}
    change_opt_out(store, DI[1], opted_out=True, now=f.NOW)

    stored = store_introducers(store, ranking, rows)

    assert stored.enabled and stored.records == 2
    assert _stored_colleagues(store) == {ANA[0], BO[0]}
    with store.connect() as connection:
        dana = connection.execute(
            sa.text("SELECT system_user_id, rank FROM introducer WHERE record_id = 'c-dana'")
        ).all()
    assert sorted(dana, key=lambda row: row[1]) == [(ANA[0], 1), (BO[0], 2)]

"""Pull from the loopback Dataverse into the contract tables: first, incremental, expired,
malformed rows, unmatched addresses, a crash between pages (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.dataverse.client import DataverseClient
from crm.dataverse.exceptions import ServerUnavailable
from crm.dataverse.pull import Puller, PullReport
from crm.dataverse.retry import RetryPolicy
from emulator.dataverse.testing import LoopbackDataverse, rid

NOW = datetime.now(UTC)  # the emulator stamps createdon with the clock
CONTRACT = (
    "system_user",
    "account",
    "contact",
    "lead",
    "opportunity",
    "opportunity_stakeholder",
    "crm_activity",
    "crm_activity_party",
)


def contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every contract row (health columns aside), sorted, to compare runs."""
    found = {}
    with engine.connect() as connection:
        for table in CONTRACT:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
            columns = [
                c
                for c in reflected.c
                if not c.name.startswith("health_")
                and not (table == "crm_activity_party" and c.name == "id")
            ]
            rows = connection.execute(sa.select(*columns)).all()
            found[table] = sorted(tuple(map(str, row)) for row in rows)
    return found


async def pull(client: DataverseClient, engine: Engine, page_size: int = 5000) -> PullReport:
    return await Puller(client, engine, now=NOW, page_size=page_size).pull()


async def test_first_pull_maps_every_table(client: DataverseClient, engine: Engine) -> None:
    report = await pull(client, engine)
    rows = contents(engine)
    assert report.problems.count == 0
    assert [row[1] for row in rows["system_user"]] == ["adele@contoso.com"]  # no app user
    assert len(rows["account"]) == 2 and len(rows["contact"]) == 3 and len(rows["lead"]) == 1
    with engine.connect() as connection:
        deal = connection.execute(sa.text("select * from opportunity")).mappings().one()
        assert (deal["status"], deal["account_id"], deal["estimated_revenue"]) == (
            "open",
            rid("account", "fabrikam"),
            120000.0,
        )
        stakeholders = connection.execute(sa.text("select * from opportunity_stakeholder")).all()
        assert [(s.contact_id, s.role) for s in stakeholders] == [
            (rid("contact", "alex"), "Decision Maker")
        ]
        activities = {a.kind: a for a in connection.execute(sa.text("select * from crm_activity"))}
        assert activities["email"].direction == "outgoing"
        assert activities["email"].status == "completed"
        assert activities["email"].internet_message_id == "<out-1@contoso.com>"
        assert activities["appointment"].status == "open"  # 3 Scheduled
        assert activities["phone_call"].direction == "incoming"
        assert activities["task"].status == "open"
        assert activities["email"].regarding_type == "opportunity"
        parties = connection.execute(
            sa.text("select activity_id, role, record_type from crm_activity_party")
        ).all()
    roles = sorted((p.role, p.record_type) for p in parties)
    assert roles == sorted(
        [
            ("from", "system_user"),
            ("to", "contact"),
            ("organizer", "system_user"),
            ("required", "contact"),
            ("from", "contact"),
            ("to", "system_user"),
        ]
    )
    assert report.tables["contacts"].mode == "baseline"


async def test_incremental_pull_follows_creates_updates_and_deletes(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    await pull(client, engine)
    admin = dv.dataverse
    alex, bea, deal = (
        rid("contact", "alex"),
        rid("contact", "bea"),
        rid("opportunity", "fabrikam-renewal"),
    )
    task = rid("task", 1)
    admin.update_row("contacts", alex, {"emailaddress1": "alex.w@fabrikam.com"})
    admin.delete_row("contacts", rid("contact", "chen"))
    admin.add_row("accounts", {"accountid": rid("account", "new"), "name": "Contoso Pharma"})
    admin.delete_row("leads", rid("lead", 1))
    admin.update_row("opportunities", deal, {"statecode": 1})
    admin.add_row(
        "connections",
        {
            "connectionid": rid("connection", 2),
            "record1id_opportunity@odata.bind": f"/opportunities({deal})",
            "record2id_contact@odata.bind": f"/contacts({bea})",
            "record2roleid@odata.bind": (
                f"/connectionroles({rid('connectionrole', 'decision-maker')})"
            ),
        },
    )
    admin.update_row("tasks", task, {"statecode": 1, "actualend": "2024-05-20T10:00:00Z"})
    admin.update_row(
        "activityparties",
        rid("party", rid("email", 1), 2),
        {
            "partyid_contact@odata.bind": f"/contacts({bea})",
            "addressused": "bea@fabrikam.com",
        },
    )
    admin.delete_row("phonecalls", rid("phonecall", 1))
    report = await pull(client, engine)
    assert report.tables["contacts"].mode == "delta"
    with engine.connect() as connection:

        def one(query: str) -> Any:
            return connection.execute(sa.text(query)).all()

        assert one(f"select email from contact where id = '{alex}'") == [("alex.w@fabrikam.com",)]
        assert len(one("select id from contact")) == 2
        assert len(one("select id from account")) == 3
        assert one("select id from lead") == []
        assert one("select status from opportunity") == [("won",)]
        assert sorted(
            r[0] for r in one("select contact_id from opportunity_stakeholder")
        ) == sorted([alex, bea])
        assert one(f"select status from crm_activity where id = '{task}'") == [("completed",)]
        assert one("select kind from crm_activity where kind = 'phone_call'") == []
        email_to = one(
            f"select record_id from crm_activity_party where activity_id = '{rid('email', 1)}'"
            " and role = 'to'"
        )
        assert email_to == [(bea,)]
        assert one(
            f"select count(*) from crm_activity_party where activity_id = '{rid('phonecall', 1)}'"
        ) == [(0,)]


async def test_an_expired_delta_link_rebaselines_that_table_only(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    await pull(client, engine)
    dv.dataverse.delete_row("contacts", rid("contact", "chen"))
    dv.dataverse.update_row("accounts", rid("account", "alpine"), {"name": "Alpine AG"})
    dv.dataverse.expire_delta("contacts")
    report = await pull(client, engine)
    modes = {name: (t.mode, t.rebaselined) for name, t in report.tables.items()}
    assert modes["contacts"] == ("baseline", True)
    assert all(mode == ("delta", False) for name, mode in modes.items() if name != "contacts")
    assert report.tables["contacts"].swept == 1  # its delete was in the lost changes
    with engine.connect() as connection:
        assert connection.execute(sa.text("select count(*) from contact")).scalar() == 2
        names = connection.execute(sa.text("select name from account order by name")).all()
    assert [n[0] for n in names] == ["Alpine AG", "Fabrikam"]


async def test_a_malformed_row_is_reported_and_skipped_keeping_what_was_stored(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    await pull(client, engine)
    alex = rid("contact", "alex")
    dv.dataverse.update_row("contacts", alex, {"emailaddress1": "not an address", "lastname": "W"})
    dv.dataverse.update_row("emails", rid("email", 1), {"actualend": "2031-01-01T00:00:00Z"})
    report = await pull(client, engine)
    problems = [(p.table, p.row_id, p.column) for p in report.problems]
    assert problems == [
        ("contacts", alex, "emailaddress1"),
        ("emails", rid("email", 1), "actualstart"),  # a sent email starts when it ends
        ("emails", rid("email", 1), "actualend"),
    ]
    with engine.connect() as connection:
        kept = connection.execute(sa.text(f"select email from contact where id = '{alex}'")).all()
    assert kept == [("alex@fabrikam.com",)]


async def test_unmatched_addresses_are_never_stored(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    email = rid("email", 1)
    dv.dataverse.add_row(
        "activityparties",
        {
            "activitypartyid": rid("party", "stranger"),
            "activityid_email@odata.bind": f"/emails({email})",
            "addressused": "stranger@elsewhere.example",
            "participationtypemask": 3,
        },
    )
    report = await pull(client, engine)
    assert report.addresses_not_kept == 1
    with engine.connect() as connection:
        for table in ("crm_activity_party", "dataverse_party"):
            rows = connection.execute(sa.text(f"select * from {table}")).all()
            assert rows and "stranger@elsewhere.example" not in repr(rows)


def wipe(engine: Engine) -> None:
    tables = (*CONTRACT, "dataverse_cursor", "dataverse_party", "dataverse_stakeholder")
    with engine.begin() as connection:
        for table in tables:
            connection.execute(sa.text(f"delete from {table}"))


async def test_a_crash_between_pages_then_a_restart_ends_in_the_rows_of_a_clean_run(
    dv: LoopbackDataverse, make_client: Callable[..., DataverseClient], engine: Engine
) -> None:
    dv.dataverse.add_fault(kind="unavailable", every=2, limit=1, table="contacts")
    async with make_client(policy=RetryPolicy(attempts=1)) as fragile:
        with pytest.raises(ServerUnavailable):
            await pull(fragile, engine, page_size=1)
    with engine.connect() as connection:
        resumable = connection.execute(
            sa.text("select count(*) from dataverse_cursor where next_link is not null")
        ).scalar()
    assert resumable == 1  # the table it stopped in resumes from its committed page
    async with make_client() as steady:
        resumed = await pull(steady, engine, page_size=1)
        assert any(t.mode == "resumed" for t in resumed.tables.values())
        after_crash = contents(engine)
        wipe(engine)
        await pull(steady, engine, page_size=1)
    assert after_crash == contents(engine)
    assert sum(len(rows) for rows in after_crash.values()) == 19


async def test_a_throttling_storm_loses_nothing_and_stays_under_the_limits(
    dv: LoopbackDataverse, make_client: Callable[..., DataverseClient], engine: Engine
) -> None:
    async with make_client() as steady:
        await pull(steady, engine, page_size=2)
        clean = contents(engine)
    wipe(engine)
    dv.dataverse.add_fault(kind="throttle", fraction=0.3, retryAfter=1)
    async with make_client(concurrency=4) as stormy:
        await pull(stormy, engine, page_size=2)
        assert stormy.counters.throttles > 0
    assert contents(engine) == clean
    stats = dv.dataverse.stats()
    assert stats["peakConcurrency"] <= 4

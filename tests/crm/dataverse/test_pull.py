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
from storage.types import UTCDateTime

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


SELLER, BEN = rid("systemuser", "adele"), rid("systemuser", "ben")
ALEX, BEA, CHEN = rid("contact", "alex"), rid("contact", "bea"), rid("contact", "chen")
FABRIKAM, ALPINE = rid("account", "fabrikam"), rid("account", "alpine")
DEAL, SPARE_DEAL = rid("opportunity", "fabrikam-renewal"), rid("opportunity", "spare")
DECIDER, INFLUENCER = rid("connectionrole", "decision-maker"), rid("connectionrole", "influencer")
EMAIL, MEETING, CALL, TASK = (
    rid("email", 1),
    rid("appointment", 1),
    rid("phonecall", 1),
    rid("task", 1),
)
ACTIVITY_SETS = {"emails": "email", "appointments": "appointment", "phonecalls": "phonecall"}


def bind(nav: str, entity_set: str, record_id: str) -> dict[str, str]:
    return {f"{nav}@odata.bind": f"/{entity_set}({record_id})"}


def connection(n: object, contact: str, role: str, deal: str = DEAL) -> dict[str, Any]:
    return {
        "connectionid": rid("connection", n),
        **bind("record1id_opportunity", "opportunities", deal),
        **bind("record2id_contact", "contacts", contact),
        **bind("record2roleid", "connectionroles", role),
    }


def activity(entity_set: str, n: object, **values: Any) -> dict[str, Any]:
    return {
        "activityid": rid(entity_set, n),
        # an activity's regarding is bound per activity table (regardingobjectid_opportunity_email)
        **bind(
            f"regardingobjectid_opportunity_{ACTIVITY_SETS.get(entity_set, 'task')}",
            "opportunities",
            DEAL,
        ),
        **bind("ownerid", "systemusers", SELLER),
        **values,
    }


def party_row(
    n: object, entity_set: str, activity_id: str, mask: int, **who: str
) -> dict[str, Any]:
    logical = ACTIVITY_SETS.get(entity_set, "task")
    row: dict[str, Any] = {
        "activitypartyid": rid("party", "new", n),
        **bind(f"activityid_{logical}", entity_set, activity_id),
        "participationtypemask": mask,
    }
    for table, record_id in who.items():
        row.update(bind(f"partyid_{table}", f"{table}s", record_id))
    return row


def spares(admin: Any) -> None:
    """Rows the baseline holds only so that each table has one to delete afterwards."""
    admin.add_row(
        "systemusers",
        {"systemuserid": BEN, "fullname": "Ben Ross", "internalemailaddress": "ben@contoso.com"},
    )
    admin.add_row("accounts", {"accountid": rid("account", "spare"), "name": "Spare Ltd"})
    admin.add_row("leads", {"leadid": rid("lead", "spare"), "fullname": "Spare Lead"})
    admin.add_row("opportunities", {"opportunityid": SPARE_DEAL, "name": "Spare deal"})
    admin.add_row(
        "connectionroles", {"connectionroleid": INFLUENCER, "name": "Influencer", "category": 1000}
    )
    admin.add_row("connections", connection("spare", CHEN, DECIDER))
    for entity_set in ("emails", "appointments", "phonecalls", "tasks"):
        admin.add_row(entity_set, activity(entity_set, "spare", statecode=0))


def change_every_table(admin: Any) -> None:
    """After the baseline: in each table one row created, one updated, one deleted."""
    admin.add_row(
        "systemusers",
        {
            "systemuserid": rid("systemuser", "megan"),
            "fullname": "Megan Bowen",
            "internalemailaddress": "megan@contoso.com",
        },
    )
    admin.update_row("systemusers", SELLER, {"fullname": "Adele Vance-Lind"})
    admin.delete_row("systemusers", BEN)
    admin.add_row("accounts", {"accountid": rid("account", "new"), "name": "Contoso Pharma"})
    admin.update_row("accounts", ALPINE, {"name": "Alpine AG"})
    admin.delete_row("accounts", rid("account", "spare"))
    admin.add_row(
        "contacts",
        {
            "contactid": rid("contact", "dora"),
            "fullname": "Dora Park",
            "emailaddress1": "dora@fabrikam.com",
            **bind("parentcustomerid_account", "accounts", FABRIKAM),
        },
    )
    admin.update_row("contacts", ALEX, {"emailaddress1": "alex.w@fabrikam.com"})
    admin.delete_row("contacts", CHEN)
    admin.add_row("leads", {"leadid": rid("lead", 2), "fullname": "Eli Moss", "statecode": 0})
    admin.update_row("leads", rid("lead", 1), {"statecode": 1})
    admin.delete_row("leads", rid("lead", "spare"))
    admin.add_row(
        "opportunities",
        {
            "opportunityid": rid("opportunity", "alpine-pilot"),
            "name": "Alpine pilot",
            **bind("parentaccountid", "accounts", ALPINE),
        },
    )
    admin.update_row("opportunities", DEAL, {"statecode": 1})
    admin.delete_row("opportunities", SPARE_DEAL)
    admin.add_row("connections", connection(2, BEA, DECIDER))  # a stakeholder added
    admin.update_row(
        "connections", rid("connection", 1), bind("record2roleid", "connectionroles", INFLUENCER)
    )
    admin.delete_row("connections", rid("connection", "spare"))
    admin.add_row(
        "emails",
        activity("emails", 2, statecode=1, directioncode=False, actualend="2024-05-08T10:00:00Z"),
    )
    admin.update_row("emails", EMAIL, {"directioncode": False})
    admin.delete_row("emails", rid("emails", "spare"))
    admin.add_row(
        "appointments",
        activity(
            "appointments",
            2,
            statecode=3,
            scheduledstart="2024-05-09T09:00:00Z",
            scheduledend="2024-05-09T10:00:00Z",
        ),
    )
    admin.update_row("appointments", MEETING, {"statecode": 1})  # an activity completed
    admin.delete_row("appointments", rid("appointments", "spare"))
    admin.add_row("phonecalls", activity("phonecalls", 2, statecode=0, directioncode=True))
    admin.update_row("phonecalls", CALL, {"statecode": 2})
    admin.delete_row("phonecalls", rid("phonecalls", "spare"))
    admin.add_row("tasks", activity("tasks", 2, statecode=0))
    admin.update_row("tasks", TASK, {"statecode": 1, "actualend": "2024-05-20T10:00:00Z"})
    admin.delete_row("tasks", rid("tasks", "spare"))
    admin.add_row("activityparties", party_row(1, "emails", EMAIL, 3, contact=BEA))  # cc
    admin.add_row("activityparties", party_row(2, "emails", rid("emails", 2), 1, contact=ALEX))
    admin.update_row(  # a party changed: the email went to Bea, not Alex
        "activityparties",
        rid("party", EMAIL, 2),
        {**bind("partyid_contact", "contacts", BEA), "addressused": "bea@fabrikam.com"},
    )
    admin.delete_row("activityparties", rid("party", MEETING, 2))


async def test_incremental_pull_follows_creates_updates_and_deletes_of_every_table(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    admin = dv.dataverse
    spares(admin)
    await pull(client, engine)
    change_every_table(admin)
    report = await pull(client, engine)
    assert all(table.mode == "delta" for table in report.tables.values())
    assert report.problems.count == 0, [str(problem) for problem in report.problems]
    with engine.connect() as connection:

        def rows(query: str) -> set[tuple[Any, ...]]:
            return {tuple(row) for row in connection.execute(sa.text(query))}

        assert rows("select id, full_name from system_user") == {
            (SELLER, "Adele Vance-Lind"),
            (rid("systemuser", "megan"), "Megan Bowen"),
        }
        assert rows("select id, name from account") == {
            (FABRIKAM, "Fabrikam"),
            (ALPINE, "Alpine AG"),
            (rid("account", "new"), "Contoso Pharma"),
        }
        assert rows("select id, email from contact") == {
            (ALEX, "alex.w@fabrikam.com"),
            (BEA, "bea@fabrikam.com"),
            (rid("contact", "dora"), "dora@fabrikam.com"),
        }
        assert rows("select id, status from lead") == {
            (rid("lead", 1), "qualified"),
            (rid("lead", 2), "open"),
        }
        assert rows("select id, status, account_id from opportunity") == {
            (DEAL, "won", FABRIKAM),
            (rid("opportunity", "alpine-pilot"), "open", ALPINE),
        }
        assert rows("select opportunity_id, contact_id, role from opportunity_stakeholder") == {
            (DEAL, ALEX, "Influencer"),
            (DEAL, BEA, "Decision Maker"),
        }
        assert rows("select id, kind, status, direction from crm_activity") == {
            (EMAIL, "email", "completed", "incoming"),
            (rid("emails", 2), "email", "completed", "incoming"),
            (MEETING, "appointment", "completed", None),
            (rid("appointments", 2), "appointment", "open", None),
            (CALL, "phone_call", "cancelled", "incoming"),
            (rid("phonecalls", 2), "phone_call", "open", "outgoing"),
            (TASK, "task", "completed", None),
            (rid("tasks", 2), "task", "open", None),
        }
        assert rows("select activity_id, role, record_id from crm_activity_party") == {
            (EMAIL, "from", SELLER),
            (EMAIL, "to", BEA),
            (EMAIL, "cc", BEA),
            (rid("emails", 2), "from", ALEX),
            (MEETING, "organizer", SELLER),
            (CALL, "from", ALEX),
            (CALL, "to", SELLER),
        }


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


async def test_a_text_with_a_nul_character_is_reported_not_a_traceback(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    """No database text column takes a NUL character (PostgreSQL refuses the whole page):
    the row holding one is reported by table, id and column and skipped, the rest of the
    page is written and what was stored for the row stays."""
    await pull(client, engine)
    alex, bea = rid("contact", "alex"), rid("contact", "bea")
    dv.dataverse.update_row("contacts", alex, {"fullname": "Alex\x00Wilber"})
    dv.dataverse.update_row("contacts", bea, {"lastname": "Renamed", "fullname": "Bea Renamed"})
    party = dv.dataverse.service.store.data("activityparties")
    assert party is not None
    party_id = next(iter(party.rows))
    dv.dataverse.update_row("activityparties", party_id, {"addressused": "x\x00@fabrikam.com"})
    report = await pull(client, engine)
    problems = [(p.table, p.row_id, p.column, p.allowed) for p in report.problems]
    assert problems == [
        ("contacts", alex, "fullname", "a text without NUL characters"),
        ("activityparties", party_id, "addressused", "a text without NUL characters"),
    ]
    assert report.tables["contacts"].skipped == 1 and report.tables["contacts"].written == 1
    with engine.connect() as connection:
        rows = connection.execute(sa.text("select id, full_name from contact")).all()
        names = {str(row[0]): str(row[1]) for row in rows}
        parties = connection.execute(sa.text("select count(*) from dataverse_party")).scalar()
    assert names[alex] == "Alex Wilber" and names[bea] == "Bea Renamed"
    assert parties == 6  # the party's earlier row stays


async def test_a_row_without_its_id_is_reported_and_skipped_keeping_what_was_stored(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    """A row Dataverse sends without its primary id (written so by another integration)
    names no record: it is reported by table and column, saying it has no id, and skipped;
    every stored row stays, even through a re-baseline (any stored row may be that one).
    A party without its activity is reported and skipped the same way."""
    await pull(client, engine)
    stored = contents(engine)
    party = dv.dataverse.service.store.data("activityparties")
    assert party is not None
    party_id = next(iter(party.rows))
    dv.dataverse.corrupt_row("contacts", rid("contact", "alex"), {"contactid": None})
    dv.dataverse.corrupt_row("emails", rid("email", 1), {"activityid": None})
    dv.dataverse.corrupt_row("activityparties", party_id, {"activitypartyid": None})
    other_party = list(party.rows)[1]
    dv.dataverse.corrupt_row("activityparties", other_party, {"_activityid_value": None})
    report = await pull(client, engine)
    problems = [(p.table, p.row_id, p.column, p.value) for p in report.problems]
    assert problems == [
        ("contacts", "(no id)", "contactid", None),
        ("emails", "(no id)", "activityid", None),
        ("activityparties", "(no id)", "activitypartyid", None),
        ("activityparties", other_party, "activityid", None),  # a party of no activity
    ]
    assert "contacts '(no id)': contactid None is not allowed" in str(report.problems.examples[0])
    assert report.tables["contacts"].skipped == report.tables["emails"].skipped == 1
    assert contents(engine) == stored
    dv.dataverse.expire_delta("contacts")
    rebaselined = await pull(client, engine)
    assert rebaselined.tables["contacts"].rebaselined
    assert [(p.table, p.column) for p in rebaselined.problems] == [("contacts", "contactid")]
    assert rebaselined.tables["contacts"].swept == 0
    assert contents(engine) == stored


async def test_pulled_times_compare_with_times_written_by_the_store(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    """A page goes in as one JSON parameter: its times must land in the form the store
    writes (UTC, a +hh:mm zone moved, fractions kept), or a query by time misses them."""
    dv.dataverse.corrupt_row(
        "emails", rid("email", 1), {"actualend": "2024-05-06T11:00:00.25+02:00"}
    )
    dv.dataverse.corrupt_row("tasks", rid("task", 1), {"actualend": "2024-05-08T10:00:00Z"})
    await pull(client, engine)
    ended = sa.table("crm_activity", sa.column("id"), sa.column("end_at", UTCDateTime()))
    with engine.connect() as connection:
        found = {
            moment: connection.execute(sa.select(ended.c.id).where(ended.c.end_at == moment))
            .scalars()
            .all()
            for moment in (
                datetime(2024, 5, 6, 9, 0, 0, 250000, tzinfo=UTC),
                datetime(2024, 5, 8, 10, tzinfo=UTC),
            )
        }
        later = (
            connection.execute(
                sa.select(ended.c.id).where(ended.c.end_at > datetime(2024, 5, 7, 12, tzinfo=UTC))
            )
            .scalars()
            .all()
        )
    assert [list(map(str, ids)) for ids in found.values()] == [
        [rid("email", 1)],
        [rid("task", 1)],
    ]
    assert [str(i) for i in later] == [rid("task", 1)]


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


async def test_the_execution_time_limit_and_injected_429s_lose_nothing(
    dv: LoopbackDataverse, make_client: Callable[..., DataverseClient], engine: Engine
) -> None:
    async with make_client() as steady:
        await pull(steady, engine, page_size=3)
        clean = contents(engine)
    wipe(engine)
    dv.dataverse.reset_stats()
    # Every request costs 40 ms of execution time; 0.2 s of it fits in 30 s (virtual time).
    dv.dataverse.set_limits(execution_seconds=0.2, window_seconds=30)
    dv.dataverse.add_fault(kind="latency", latencyMs=40, fraction=1.0)
    dv.dataverse.add_fault(kind="throttle", fraction=0.2, retryAfter=3)
    async with make_client(concurrency=4) as limited:
        await pull(limited, engine, page_size=3)
    assert contents(engine) == clean
    stats = dv.dataverse.stats()
    assert stats["throttledByCode"]["0x80072321"] > 0  # combined execution time
    assert stats["throttledByCode"]["0x80072322"] > 0  # injected
    assert stats["earlyRetries"] == 0  # never sent while throttled: the wait never grew

"""`rapport crm import FILE` on SQLite and PostgreSQL: JSON and CSV bundles, row by row."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.file_import import import_file
from crm.file_reading import ImportFileError
from crm.file_report import ImportReport
from emulator.generator import crm_import_document, generate_tenant
from tests.worker.cli_runner import run_cli

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TABLES = (
    "system_user",
    "account",
    "contact",
    "lead",
    "opportunity",
    "opportunity_stakeholder",
    "crm_activity",
    "crm_activity_party",
)


def document() -> dict[str, Any]:
    """A small CRM: one seller, one account with two contacts, a lead, a deal, two activities."""
    return {
        "system_user": [
            {
                "id": "u-ana",
                "email": "ana@ours.example",
                "full_name": "Ana Seller",
                "team": "Enterprise",
            },
        ],
        "account": [
            {
                "id": "a-wood",
                "name": "Woodgrove Bank",
                "owner_id": "u-ana",
                "primary_contact_id": "c-priya",
                "created_at": "2023-04-01T00:00:00Z",
            },
        ],
        "contact": [
            {
                "id": "c-priya",
                "full_name": "Priya Raman",
                "email": "priya@woodgrove.example",
                "account_id": "a-wood",
            },
            {
                "id": "c-omar",
                "full_name": "Omar Haddad",
                "email": "omar@woodgrove.example",
                "account_id": "a-wood",
            },
        ],
        "lead": [
            {
                "id": "l-robin",
                "full_name": "Robin Vale",
                "email": "robin@prospect.example",
                "status": "open",
                "owner_id": "u-ana",
            },
        ],
        "opportunity": [
            {
                "id": "o-renewal",
                "name": "Woodgrove renewal",
                "account_id": "a-wood",
                "owner_id": "u-ana",
                "customer_contact_id": "c-priya",
                "status": "open",
                "estimated_revenue": 120000.5,
                "estimated_close_date": "2026-03-31",
            },
        ],
        "opportunity_stakeholder": [
            {"opportunity_id": "o-renewal", "contact_id": "c-priya", "role": "decision maker"},
        ],
        "crm_activity": [
            {
                "id": "act-1",
                "kind": "email",
                "owner_id": "u-ana",
                "direction": "outgoing",
                "status": "completed",
                "start_at": "2025-11-03T09:30:00Z",
                "regarding_type": "opportunity",
                "regarding_id": "o-renewal",
                "conversation_id": "conv-1",
                "opens": 2,
                "parties": [
                    {"role": "from", "record_type": "system_user", "record_id": "u-ana"},
                    {"role": "to", "address": "priya@woodgrove.example"},
                ],
            },
            {
                "id": "act-2",
                "kind": "appointment",
                "owner_id": "u-ana",
                "status": "completed",
                "start_at": "2025-11-10T14:00:00+01:00",
                "end_at": "2025-11-10T15:00:00+01:00",
                "parties": [
                    {"role": "organizer", "record_type": "system_user", "record_id": "u-ana"},
                    {
                        "role": "required",
                        "record_type": "contact",
                        "record_id": "c-omar",
                        "response": "accepted",
                    },
                ],
            },
        ],
    }


def write_json(path: Path, content: dict[str, Any]) -> Path:
    """One row per line, as exports often are: a row's line is easy to find."""
    tables = [
        f"{json.dumps(table)}: [\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]"
        for table, rows in content.items()
    ]
    path.write_text("{\n" + ",\n".join(tables) + "\n}\n", encoding="utf-8")
    return path


def run(path: Path, engine: Engine, *, dry_run: bool = False) -> ImportReport:
    return import_file(path, engine, now=NOW, dry_run=dry_run)


def counts(report: ImportReport, field: str) -> dict[str, int]:
    return {table: getattr(c, field) for table, c in report.tables.items() if getattr(c, field)}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every CRM table's rows (parties without their generated id), sorted."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in TABLES:
            columns = "activity_id, role, address, record_type, record_id, response"
            selected = columns if table == "crm_activity_party" else "*"
            result = connection.execute(sa.text(f"SELECT {selected} FROM {table}"))
            rows[table] = sorted((tuple(row) for row in result), key=repr)
    return rows


def column(engine: Engine, table: str, name: str, record_id: str) -> Any:
    with engine.connect() as connection:
        query = sa.text(f"SELECT {name} FROM {table} WHERE id = :id")
        return connection.execute(query, {"id": record_id}).scalar()


def parties_of(engine: Engine, activity_id: str) -> list[tuple[Any, ...]]:
    return [row[1:] for row in dump(engine)["crm_activity_party"] if row[0] == activity_id]


def test_a_valid_file_imports_every_row(engine: Engine, tmp_path: Path) -> None:
    report = run(write_json(tmp_path / "crm.json", document()), engine)

    assert counts(report, "inserted") == {
        "system_user": 1,
        "account": 1,
        "contact": 2,
        "lead": 1,
        "opportunity": 1,
        "opportunity_stakeholder": 1,
        "crm_activity": 2,
        "crm_activity_party": 4,
    }
    assert report.rejected == 0 and report.problem_count == 0
    assert column(engine, "opportunity", "estimated_revenue", "o-renewal") == 120000.5
    assert column(engine, "contact", "account_id", "c-omar") == "a-wood"
    with engine.connect() as connection:
        start, end = connection.execute(
            sa.select(sa.column("start_at", type_=_utc()), sa.column("end_at", type_=_utc()))
            .select_from(sa.table("crm_activity"))
            .where(sa.column("id") == "act-2")
        ).one()
    assert start == datetime(2025, 11, 10, 13, 0, tzinfo=UTC)  # +01:00 stored as UTC
    assert (end - start).total_seconds() == 3600
    assert parties_of(engine, "act-2") == [
        ("organizer", None, "system_user", "u-ana", None),
        ("required", None, "contact", "c-omar", "accepted"),
    ]


def _utc() -> Any:
    from storage.types import UTCDateTime

    return UTCDateTime()


def test_a_second_import_of_the_same_file_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write_json(tmp_path / "crm.json", document())
    run(path, engine)
    with engine.begin() as connection:  # health Rapport wrote meanwhile must survive
        connection.execute(sa.text("UPDATE contact SET health_score = 71 WHERE id = 'c-priya'"))
    before = dump(engine)

    again = run(path, engine)

    assert counts(again, "inserted") == {} and counts(again, "updated") == {}
    assert counts(again, "unchanged")["crm_activity_party"] == 4
    assert sum(counts(again, "unchanged").values()) == 9 + 4
    assert dump(engine) == before
    assert column(engine, "contact", "health_score", "c-priya") == 71


def test_a_changed_row_updates_and_a_column_left_out_keeps_its_value(
    engine: Engine, tmp_path: Path
) -> None:
    run(write_json(tmp_path / "crm.json", document()), engine)
    changed = document()
    changed["contact"][0]["email"] = "priya.raman@woodgrove.example"
    del changed["contact"][1]["account_id"]  # left out: stays a-wood
    changed["crm_activity"][1]["parties"][1]["response"] = "declined"
    changed["crm_activity"][0].pop("parties")  # not given: act-1 keeps its parties
    changed["crm_activity"][0]["status"] = "completed"

    report = run(write_json(tmp_path / "changed.json", changed), engine)

    assert counts(report, "updated") == {"contact": 1}
    assert report.tables["crm_activity"].unchanged == 2
    assert (
        report.tables["crm_activity_party"].inserted,
        report.tables["crm_activity_party"].removed,
    ) == (2, 2)
    assert column(engine, "contact", "email", "c-priya") == "priya.raman@woodgrove.example"
    assert column(engine, "contact", "account_id", "c-omar") == "a-wood"
    assert ("required", None, "contact", "c-omar", "declined") in parties_of(engine, "act-2")
    assert len(parties_of(engine, "act-1")) == 2


def _bad_document() -> dict[str, Any]:
    bad = document()
    bad["contact"].append({"id": 7, "full_name": "Wrong Type"})  # an id that is a number
    bad["contact"].append({"full_name": "No Id", "email": "noid@woodgrove.example"})
    bad["contact"].append(
        {"id": "c-ghost", "full_name": "Ghost", "account_id": "a-nowhere"}  # unknown account
    )
    bad["lead"].append({"id": "l-hot", "full_name": "Hot Lead", "status": "hot"})
    bad["lead"].append({"id": "l-twice", "full_name": "Twice A"})
    bad["lead"].append({"id": "l-twice", "full_name": "Twice B"})
    bad["crm_activity"].append(
        {"id": "act-bad-date", "kind": "task", "start_at": "2025-13-01T00:00:00Z"}
    )
    bad["crm_activity"].append({"id": "act-naive", "kind": "task", "start_at": "2025-11-01 10:00"})
    bad["crm_activity"].append(  # one problem: the type, not also the id that goes with it
        {
            "id": "act-deal",
            "kind": "task",
            "start_at": "2025-11-01T10:00:00Z",
            "regarding_type": "deal",
            "regarding_id": "o-renewal",
        }
    )
    return bad


def _reported(report: ImportReport) -> set[tuple[str, str, str]]:
    return {(problem.where, problem.table, problem.column) for problem in report.problems}


def test_bad_rows_are_reported_by_file_line_and_column_and_the_rest_imported(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_json(tmp_path / "crm.json", document())
    run(path, engine)
    with engine.begin() as connection:  # a stored lead the bad l-twice rows must not touch
        connection.execute(
            sa.text("INSERT INTO lead (id, full_name, status) VALUES ('l-twice', 'Stored', 'open')")
        )
    bad_path = write_json(tmp_path / "bad.json", _bad_document())
    lines = bad_path.read_text().splitlines()

    def line_of(text: str) -> str:
        number = next(i for i, line in enumerate(lines, 1) if text in line)
        return f"{bad_path}:{number}"

    report = run(bad_path, engine)

    assert _reported(report) == {
        (f"{line_of('Wrong Type')} (/contact/2)", "contact", "id"),
        (f"{line_of('No Id')} (/contact/3)", "contact", "id"),
        (f"{line_of('c-ghost')} (/contact/4)", "contact", "account_id"),
        (f"{line_of('l-hot')} (/lead/1)", "lead", "status"),
        (f"{line_of('Twice A')} (/lead/2)", "lead", "id"),
        (f"{line_of('Twice B')} (/lead/3)", "lead", "id"),
        (f"{line_of('act-bad-date')} (/crm_activity/2)", "crm_activity", "start_at"),
        (f"{line_of('act-naive')} (/crm_activity/3)", "crm_activity", "start_at"),
        (f"{line_of('act-deal')} (/crm_activity/4)", "crm_activity", "regarding_type"),
    }
    assert report.problem_count == report.rejected == 9
    messages = "\n".join(map(str, report.problems))
    assert "status 'hot' is not allowed; expected one of open, qualified, disqualified" in messages
    assert "account_id 'a-nowhere' is not allowed; expected the id of an account" in messages
    wheres = [problem.where for problem in report.problems]  # in file order, as a user reads
    assert wheres == sorted(wheres, key=lambda where: int(where.split(":")[-1].split(" ")[0]))
    assert "id is missing; expected a value: a non-empty text" in messages
    assert "a timestamp with a zone" in messages
    assert f"an id given once per table (given at {line_of('Twice A')}" in messages
    # The good rows are (still) there; the stored lead both l-twice rows name is untouched.
    assert report.tables["contact"].unchanged == 2 and report.tables["lead"].unchanged == 1
    assert column(engine, "lead", "full_name", "l-twice") == "Stored"
    assert column(engine, "contact", "id", "c-ghost") is None
    assert column(engine, "crm_activity", "id", "act-naive") is None


@pytest.mark.parametrize(
    ("first_refused", "change"),
    [
        # The account is refused first; the contacts, read after it, name it.
        (("account", "a-wood", "owner_id"), ("account", 0, "owner_id", "u-nobody")),
        # A contact read after the account is refused; the account names it as its
        # primary contact, so it goes too (a second round), and so on down the chain.
        (("contact", "c-priya", "account_id"), ("contact", 0, "account_id", "a-nowhere")),
    ],
)
def test_a_record_refused_takes_the_records_naming_it_along(
    engine: Engine, tmp_path: Path, first_refused: tuple[str, str, str], change: tuple[Any, ...]
) -> None:
    content = document()
    table, index, name, value = change
    content[table][index][name] = value

    report = run(write_json(tmp_path / "crm.json", content), engine)

    refused = {(problem.table, problem.row_id, problem.column) for problem in report.problems}
    assert refused == {
        first_refused,
        ("account", "a-wood", "owner_id" if table == "account" else "primary_contact_id"),
        ("contact", "c-priya", "account_id"),
        ("contact", "c-omar", "account_id"),
        ("opportunity", "o-renewal", "account_id" if table == "account" else "customer_contact_id"),
        ("opportunity_stakeholder", "o-renewal/c-priya", "opportunity_id"),
        ("crm_activity", "act-1", "regarding_id"),
        ("crm_activity_party", "act-2", "record_id"),
    }
    assert column(engine, "account", "id", "a-wood") is None
    assert column(engine, "contact", "id", "c-priya") is None
    assert column(engine, "crm_activity", "id", "act-2") == "act-2"
    assert parties_of(engine, "act-2") == []  # one party refused: none changed


def test_a_bad_party_leaves_the_stored_parties_and_unknown_addresses_are_not_kept(
    engine: Engine, tmp_path: Path
) -> None:
    run(write_json(tmp_path / "crm.json", document()), engine)
    stored = parties_of(engine, "act-1")
    content = document()
    first, second = content["crm_activity"]
    first["parties"].append({"role": "watcher", "address": "x@y.example"})
    second["parties"].append({"role": "optional", "address": "who@else.example"})

    report = run(write_json(tmp_path / "again.json", content), engine)

    [problem] = report.problems
    assert (problem.table, problem.column) == ("crm_activity_party", "role")
    assert problem.value == "watcher"
    assert problem.where.endswith("(/crm_activity/0/parties/2)")
    assert "activity act-1 keeps its stored parties" in str(problem)
    assert parties_of(engine, "act-1") == stored
    assert report.addresses_not_kept == 1  # the stranger on act-2: never stored
    assert "who@else.example" not in repr(dump(engine))


def test_dry_run_writes_nothing_and_reports_exactly(engine: Engine, tmp_path: Path) -> None:
    run(write_json(tmp_path / "crm.json", document()), engine)
    changed = _bad_document()
    changed["contact"][0]["full_name"] = "Priya R."
    changed["crm_activity"][1]["parties"].pop()
    changed["lead"].append({"id": "l-new", "full_name": "New Lead"})
    path = write_json(tmp_path / "changed.json", changed)
    before = dump(engine)

    dry = run(path, engine, dry_run=True)

    assert dump(engine) == before
    real = run(path, engine)
    assert dry.dry_run and not real.dry_run
    assert dry.tables == real.tables
    assert [str(problem) for problem in dry.problems] == [str(p) for p in real.problems]
    assert counts(real, "inserted") == {"lead": 1, "crm_activity_party": 1}
    assert counts(real, "updated") == {"contact": 1}
    assert real.tables["crm_activity_party"].removed == 2
    assert dump(engine) != before


def _write_bundle(directory: Path, content: dict[str, Any]) -> Path:
    directory.mkdir()
    parties = []
    for activity in content["crm_activity"]:
        for party in activity.pop("parties", []):
            parties.append({"activity_id": activity["id"], **party})
    content = {**content, "crm_activity_party": parties}
    for table, rows in content.items():
        columns = list(dict.fromkeys(column for row in rows for column in row))
        with (directory / f"{table}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, columns)
            writer.writeheader()
            writer.writerows(rows)
    return directory


def test_a_csv_bundle_imports_like_the_json_file(engine: Engine, tmp_path: Path) -> None:
    content = document()
    content["lead"].append({"id": "l-hot", "full_name": "Hot Lead", "status": "hot"})
    bundle = _write_bundle(tmp_path / "bundle", content)

    report = run(bundle, engine)

    assert counts(report, "inserted")["crm_activity_party"] == 4
    assert counts(report, "inserted")["crm_activity"] == 2
    [problem] = report.problems
    assert problem.where == f"{bundle}/lead.csv:3" and problem.column == "status"
    assert parties_of(engine, "act-2")[1] == ("required", None, "contact", "c-omar", "accepted")
    # The same CRM as a JSON file finds everything in place; so does the bundle zipped.
    assert counts(run(write_json(tmp_path / "crm.json", document()), engine), "inserted") == {}
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in sorted(bundle.iterdir()):
            zipped.write(member, f"export/{member.name}")
    again = run(archive, engine)
    assert counts(again, "inserted") == {} and counts(again, "updated") == {}
    assert [problem.where for problem in again.problems] == [f"{archive}:export/lead.csv:3"]


def test_a_party_row_of_no_activity_in_the_bundle_is_reported(
    engine: Engine, tmp_path: Path
) -> None:
    bundle = _write_bundle(tmp_path / "bundle", document())
    with (bundle / "crm_activity_party.csv").open("a", newline="", encoding="utf-8") as out:
        csv.writer(out).writerow(["act-404", "to", "", "contact", "c-omar", ""])

    report = run(bundle, engine)

    [problem] = report.problems
    assert (problem.where, problem.column) == (f"{bundle}/crm_activity_party.csv:6", "activity_id")
    assert report.tables["crm_activity_party"].inserted == 4


def test_the_emulator_seed_imports(engine: Engine, tmp_path: Path) -> None:
    _, seed = generate_tenant(users=4, messages_per_user=0, seed=3)
    path = write_json(tmp_path / "crm.json", crm_import_document(seed))

    report = run(path, engine)

    assert counts(report, "inserted") == {
        "system_user": 4,
        "account": len(seed["accounts"]),
        "contact": len(seed["contacts"]),
    }
    assert report.problem_count == 0
    assert sum(counts(run(path, engine), "unchanged").values()) == sum(
        counts(report, "inserted").values()
    )


def test_emulator_generate_crm_out_then_crm_import(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    crm_file = tmp_path / "crm.json"
    generated = run_cli(
        capsys,
        "emulator",
        "generate",
        "--users",
        "3",
        "--messages-per-user",
        "0",
        "--seed",
        "9",
        "--out",
        str(tmp_path / "tenant.json"),
        "--crm-out",
        str(crm_file),
    )
    assert generated.code == 0, generated.err

    imported = run_cli(capsys, "crm", "import", str(crm_file), "--json")

    assert imported.code == 0, imported.err
    payload = json.loads(imported.out)
    assert payload["tables"]["system_user"]["inserted"] == 3
    assert payload["rejected_rows"] == 0


def test_cli_exit_codes_and_one_line_errors(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    good = write_json(tmp_path / "crm.json", document())
    bad = write_json(tmp_path / "bad.json", _bad_document())
    not_json = tmp_path / "notes.json"
    not_json.write_text('{"contact": [\n  {"id": "c-1",}\n]}\n', encoding="utf-8")
    not_text = tmp_path / "export.json"
    not_text.write_bytes(b'{"contact": [{"id": "c-\xe9"}]}')

    ok = run_cli(capsys, "crm", "import", str(good))
    assert (ok.code, ok.err) == (0, "")
    assert "system_user" in ok.out

    rejected = run_cli(capsys, "crm", "import", str(bad), "--json")
    assert rejected.code == 2
    payload = json.loads(rejected.out)
    assert payload["rejected_rows"] == 9 and payload["tables"]["contact"]["unchanged"] == 2

    dry = run_cli(capsys, "crm", "import", str(bad), "--dry-run")
    assert dry.code == 2 and "9 rows rejected; the other rows were checked" in dry.out

    for path, reason in (
        (not_json, f"{not_json}:2:16: not JSON as expected: a row object"),
        (not_text, f"{not_text}: not UTF-8 text"),
        (tmp_path, "no TABLE.csv file; expected one or more of system_user.csv"),
        (tmp_path / "missing.json", "no such file or directory"),
    ):
        failed = run_cli(capsys, "crm", "import", str(path))
        assert failed.code == 2, failed
        assert failed.err.count("\n") == 1 and "Traceback" not in failed.err
        assert reason in failed.err and "nothing was imported" in failed.err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[{"id": "x"}]', 'an object {"table": [rows], ...}'),
        ('{"contacts": []}', '"contacts" is not a table of the import format'),
        ('{"contact": {"id": "x"}}', 'a list of rows for "contact"'),
        ('{"contact": [], "contact": []}', 'table "contact" appears twice'),
        ('{"contact": []} trailing', "nothing after the closing '}'"),
    ],
)
def test_a_file_not_in_the_format_is_refused_whole(
    engine: Engine, tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "crm.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ImportFileError, match=reason.replace("[", r"\[").replace("{", r"\{")):
        run(path, engine)


def test_the_documented_example_imports_whole(engine: Engine, tmp_path: Path) -> None:
    contract = (Path(__file__).resolve().parents[2] / "docs" / "crm-contract.md").read_text()
    section = contract[contract.index("## Import file format") :]
    start = section.index("```json\n") + len("```json\n")
    example = section[start : section.index("\n```\n", start)]
    path = tmp_path / "crm.json"
    path.write_text(example, encoding="utf-8")

    report = run(path, engine)

    assert report.problem_count == 0 and report.addresses_not_kept == 0
    assert sum(counts(report, "inserted").values()) == 8 + 4


def _refuse_inserts_of(engine: Engine, activity_id: str) -> None:
    """A trigger that makes the store itself fail partway through an import."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON crm_activity "
                    f"WHEN NEW.id = '{activity_id}' BEGIN SELECT RAISE(ABORT, 'store refused'); END"
                )
            )
            return
        connection.execute(
            sa.text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.id = '{activity_id}' THEN RAISE EXCEPTION 'store refused'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        connection.execute(
            sa.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON crm_activity "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )


def _drop_refusal(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(sa.text("DROP TRIGGER refuse"))
        else:
            connection.execute(sa.text("DROP TRIGGER refuse ON crm_activity"))
            connection.execute(sa.text("DROP FUNCTION refuse()"))


def test_a_store_failure_partway_writes_nothing(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    path = write_json(tmp_path / "crm.json", document())
    _refuse_inserts_of(engine, "act-2")
    try:
        failed = run_cli(capsys, "crm", "import", str(path))
    finally:
        _drop_refusal(engine)

    assert failed.code == 1 and failed.err.count("\n") == 1 and "Traceback" not in failed.err
    assert "store refused" in failed.err
    assert all(rows == [] for rows in dump(engine).values())  # not even the users went in
    assert run_cli(capsys, "crm", "import", str(path)).code == 0


def test_an_imported_crm_is_scored_by_the_next_run(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    content = document()
    content["crm_activity"][0]["parties"].append({"role": "cc", "address": "who@else.example"})
    path = write_json(tmp_path / "crm.json", content)
    assert run_cli(capsys, "crm", "import", str(path)).code == 0

    ran = run_cli(capsys, "run", "--once", "--json")

    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["crm_activities"] == 2 and summary["skipped_crm_rows"] == []
    assert summary["interactions"]["total"] == 2
    with engine.connect() as connection:
        scored = connection.execute(
            sa.text("SELECT record_type, record_id FROM relationship_kpi")
        ).all()
    assert {("contact", "c-priya"), ("contact", "c-omar"), ("opportunity", "o-renewal")} <= set(
        map(tuple, scored)
    )

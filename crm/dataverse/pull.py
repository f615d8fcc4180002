"""Pull Dataverse into the contract tables: a full read first, then change tracking.

Per table (crm.dataverse.mapping.PULLED, in order), one loop does the HTTP:

- no cursor: `GET {set}?$select=...` with `Prefer: odata.track-changes,
  odata.maxpagesize=N`, following `@odata.nextLink` to the `@odata.deltaLink`;
- a delta link: follow it, the same way; created and updated rows come whole,
  deleted ones as `$deletedEntity` entries carrying only the id.

Each page is written in one transaction with the cursor that follows it (the next
page's link mid-round, the delta link at the end), so a crash between pages resumes
where the last committed page ended and ends in the rows of a clean run. A delta link
Dataverse no longer honours re-baselines that table only; rows the fresh full read no
longer finds are then removed (their deletes were in the lost changes).

A row that breaks the contract is reported by table, id and column and skipped; what
was stored for it stays. A row sent without its id is reported by table and column as
having none; a re-baseline that met one removes nothing (any stored row may be it). A
party address that matches no user, contact or lead is never stored.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from crm import file_store
from crm.dataverse.client import DataverseClient, Reply
from crm.dataverse.exceptions import DeltaExpired, RequestRefused
from crm.dataverse.mapping import (
    CONNECTIONS,
    PARTIES,
    PULLED,
    Row,
    TableSpec,
    party,
    stakeholder,
)
from crm.file_rows import FileRow, RowContext, refused, write_columns
from storage import dataverse_store as store
from storage.crm_activity_rules import TimeWindow
from storage.crm_problems import RowProblem, RowProblems
from storage.directory import Directory, load_directory
from storage.engine import session_scope


@cache
def _page_adapter(model: type[FileRow]) -> TypeAdapter[list[FileRow]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


@cache
def _values_getter(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A model's values in `columns` order, read from its __dict__ in one C call."""
    return operator.itemgetter(*columns)


ANNOTATIONS = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'
DELETED = "$deletedEntity"
NUL_REFUSED = "a text without NUL characters"
# A row Dataverse sent without its primary id: nothing names it, the report says so.
NO_ID = "(no id)"
NO_ID_REFUSED = "the row's id (a GUID); the row came without it"


@dataclass
class TablePull:
    entity_set: str
    mode: str = "delta"  # "baseline" (a full read), "delta", "resumed"
    pages: int = 0
    written: int = 0  # inserted or updated contract rows
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0  # rows refused (see the report's problems)
    rebaselined: bool = False  # the delta link had expired
    swept: int = 0  # rows a re-baseline no longer found
    # Rows of a re-baseline that came without their id: any stored row may be one of
    # them, so none is swept (nothing stored is lost because of a bad row).
    unnamed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PullReport:
    tables: dict[str, TablePull] = field(default_factory=dict)
    problems: RowProblems = field(default_factory=RowProblems)
    addresses_not_kept: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": {name: table.as_dict() for name, table in self.tables.items()},
            "row_problems": {
                "count": self.problems.count,
                "by_column": dict(self.problems.by_column),
                "examples": [str(problem) for problem in self.problems],
            },
            "party_addresses_not_kept": self.addresses_not_kept,
        }


@dataclass
class Page:
    rows: list[Row]
    deleted: list[str]
    next_link: str | None
    delta_link: str | None
    # Rows refused before mapping: (id, Dataverse column, value, what was expected) of a
    # row without its id, or of a text with a NUL character, which neither SQLite's JSON
    # nor PostgreSQL's text can hold.
    refused: list[tuple[str, str, Any, str]] = field(default_factory=list)
    unnamed: int = 0  # rows without their id (among `refused`)


@dataclass
class Ahead:
    """A request sent ahead of its page's turn; its failure is raised where it is read."""

    future: asyncio.Future[Reply]

    async def reply(self) -> Reply:
        return await self.future

    async def cancel(self) -> None:
        self.future.cancel()
        await asyncio.gather(self.future, return_exceptions=True)


@dataclass(frozen=True)
class Rounds:
    """One table's round: where it starts (the stored link; None: a full read), its first
    request if already sent, and the table after it (whose first request is sent while
    this table's last page is written)."""

    spec: TableSpec
    link: str | None
    ahead: Ahead | None
    following: TableSpec | None
    following_link: str | None


def _stored_link(session: Session, spec: TableSpec) -> tuple[str, bool] | None:
    """(link, mid-round) where the table's next round starts; None: a full read."""
    cursor = store.load_cursor(session=session, entity_set=spec.entity_set)
    if cursor is None or not (cursor.next_link or cursor.delta_link):
        return None
    return (cursor.next_link or cursor.delta_link or "", bool(cursor.next_link))


def read_page(reply: Reply, primary_id: str) -> Page:
    body = reply.body or {}
    rows, deleted = [], []
    refused: list[tuple[str, str, Any, str]] = []
    for entry in body.get("value", []):
        if ("@odata.context" in entry or "reason" in entry) and (
            str(entry.get("@odata.context", "")).endswith(DELETED)
            or entry.get("reason") == "deleted"
        ):
            deleted.append(str(entry.get("id")))
        elif entry.get(primary_id):
            rows.append(entry)
        else:
            refused.append((NO_ID, primary_id, entry.get(primary_id), NO_ID_REFUSED))
    page = Page(rows, deleted, body.get("@odata.nextLink"), body.get("@odata.deltaLink"))
    page.refused, page.unnamed = refused, len(refused)
    if reply.nul:
        page.rows = []
        for row in rows:
            nul = next((k for k, v in row.items() if isinstance(v, str) and "\x00" in v), None)
            if nul is None:
                page.rows.append(row)
            else:
                page.refused.append((str(row[primary_id]), nul, row[nul], NUL_REFUSED))
    return page


class Puller:
    def __init__(
        self, client: DataverseClient, engine: Engine, *, now: datetime, page_size: int = 5000
    ) -> None:
        self.client = client
        self.engine = engine
        self.now = now
        self.prefer = f"odata.track-changes,odata.maxpagesize={page_size},{ANNOTATIONS}"
        self.context = RowContext(TimeWindow.around(now))
        self.report = PullReport()
        self.roles: dict[str, tuple[str, int | None]] = {}
        self.directory: Directory | None = None
        # During a full read into a table holding none of its rows: the ids written so far
        # (the only stored rows a page can meet); None otherwise.
        self.fresh: set[str] | None = None

    async def pull(self, tables: Sequence[TableSpec] = PULLED) -> PullReport:
        ahead: Ahead | None = None
        try:
            for n, spec in enumerate(tables):
                if spec is CONNECTIONS:
                    self.roles = await self._connection_roles()
                if spec is PARTIES:
                    with Session(self.engine) as session:
                        self.directory = load_directory(session=session)
                following = tables[n + 1] if n + 1 < len(tables) else None
                ahead = await self._pull_table(spec, ahead, following)
        finally:
            if ahead is not None:
                await ahead.cancel()
        return self.report

    async def _connection_roles(self) -> dict[str, tuple[str, int | None]]:
        """Connection roles by id: small, read whole each time (name and category)."""
        roles: dict[str, tuple[str, int | None]] = {}
        link: str | None = "connectionroles"
        params: dict[str, str] | None = {"$select": "connectionroleid,name,category"}
        while link:
            reply = await self.client.get(link, params=params, prefer="odata.maxpagesize=5000")
            for role in (reply.body or {}).get("value", []):
                roles[str(role["connectionroleid"])] = (role.get("name"), role.get("category"))
            link, params = (reply.body or {}).get("@odata.nextLink"), None
        return roles

    async def _pull_table(
        self, spec: TableSpec, ahead: Ahead | None, following: TableSpec | None
    ) -> Ahead | None:
        """Pull one table; returns the first request of `following`, sent while this
        table's last page was written (None if there is none)."""
        result = self.report.tables.setdefault(spec.entity_set, TablePull(spec.entity_set))
        with Session(self.engine) as session:
            link = _stored_link(session, spec)
            # Read now: nothing of this table's pull moves the following table's cursor.
            stored = _stored_link(session, following) if following is not None else None
        next_link = stored[0] if stored else None
        result.mode = "baseline" if link is None else "resumed" if link[1] else "delta"
        rounds = Rounds(spec, link[0] if link else None, ahead, following, next_link)
        try:
            return await self._rounds(rounds, result, seen=None)
        except (DeltaExpired, RequestRefused) as error:
            if link is None or (not isinstance(error, DeltaExpired) and error.status != 400):
                raise
            # An expired (or no longer valid) link: this table alone starts over.
            with session_scope(self.engine) as session:
                store.forget_cursor(session=session, entity_set=spec.entity_set)
            result.rebaselined, result.mode = True, "baseline"
            seen: set[str] = set()
            rounds = Rounds(spec, None, None, following, next_link)
            ahead = await self._rounds(rounds, result, seen=seen)
            if not result.unnamed:
                result.swept = self._sweep(spec, seen)
            return ahead

    def _first(self, spec: TableSpec, link: str | None) -> Ahead:
        """The first request of a table's round: its stored link, or a full read."""
        params = {"$select": ",".join(spec.select)} if link is None else None
        return Ahead(
            asyncio.ensure_future(
                self.client.get(link or spec.entity_set, params=params, prefer=self.prefer)
            )
        )

    async def _rounds(
        self, rounds: Rounds, result: TablePull, seen: set[str] | None
    ) -> Ahead | None:
        """Page by page; the next page is fetched while this one is written, and while a
        table's last page is written, the following table's first (the cursor still moves
        only with the rows it covers: a fetch never commits anything). Returns that
        following table's first request, still to be awaited."""
        spec, link = rounds.spec, rounds.link
        baseline_at = self.now if link is None else None
        self.fresh = set() if link is None and self._holds_none(spec) else None
        current = rounds.ahead or self._first(spec, link)
        while True:
            reply = await current.reply()
            page = read_page(reply, spec.primary_id)
            for row_id, column, value, allowed in page.refused:
                self.report.problems.add(
                    RowProblem(spec.entity_set, row_id, column, value, allowed)
                )
            result.skipped += len(page.refused)
            if seen is not None:
                seen.update(str(row[spec.primary_id]) for row in page.rows)
                seen.update(row_id for row_id, *_ in page.refused[page.unnamed :])
                result.unnamed += page.unnamed
            if page.next_link:
                following: Ahead | None = Ahead(
                    asyncio.ensure_future(self.client.get(page.next_link, prefer=self.prefer))
                )
            elif rounds.following is not None:
                following = self._first(rounds.following, rounds.following_link)
            else:
                following = None
            try:
                await asyncio.to_thread(self._commit_page, spec, page, result, baseline_at)
            except BaseException:
                if following is not None:
                    await following.cancel()
                raise
            result.pages += 1
            if not page.next_link:
                return following
            assert following is not None
            current, baseline_at = following, None

    def _commit_page(
        self, spec: TableSpec, page: Page, result: TablePull, baseline_at: datetime | None
    ) -> None:
        with session_scope(self.engine) as session:
            self._write_page(session, spec, page, result)
            store.save_cursor(
                session=session,
                entity_set=spec.entity_set,
                next_link=page.next_link,
                delta_link=page.delta_link,
                at=self.now,
                baseline_at=baseline_at,
            )

    def _write_page(self, session: Session, spec: TableSpec, page: Page, result: TablePull) -> None:
        if spec is CONNECTIONS:
            self._write_stakeholders(session, page, result)
        elif spec is PARTIES:
            self._write_parties(session, page, result)
        else:
            self._write_records(session, spec, page, result)

    def _write_records(
        self, session: Session, spec: TableSpec, page: Page, result: TablePull
    ) -> None:
        assert spec.model is not None
        valid = self._validated_page(spec, page.rows, result)
        rows = list(valid.values())
        # A full read into a table that held none of its rows finds nothing stored but
        # what this round wrote itself: only those are looked up.
        keys = list(valid) if self.fresh is None else [k for k in valid if k[0] in self.fresh]
        stored = file_store.stored_rows(session, spec.model, keys) if keys else {}
        writes = file_store.TableWrites(inserted=rows)
        if stored:
            writes = file_store.classify(rows, stored)
        columns = write_columns(spec.model)
        values_of = _values_getter(columns)
        inserted = [values_of(row.__dict__) for row in writes.inserted]
        store.insert_page(session, file_store.TABLES[spec.model.table], columns, inserted)
        file_store.write(session, spec.model, file_store.TableWrites(updated=writes.updated))
        if self.fresh is not None:
            self.fresh.update(k[0] for k in valid if k not in stored)
        result.written += len(writes.inserted) + len(writes.updated)
        result.unchanged += writes.unchanged
        if page.deleted:
            result.deleted += store.delete_records(
                session=session, table=spec.model.table, ids=page.deleted
            )
        changed = writes.inserted + writes.updated
        if spec.model.table == "crm_activity" and changed:
            # A first pull reads activities before any party: nothing to rebuild yet.
            if not store.party_map_empty(session=session):
                ids = [row.key()[0] for row in changed]
                store.rebuild_parties(session=session, activity_ids=ids)

    def _validated_page(
        self, spec: TableSpec, page: list[Row], result: TablePull
    ) -> dict[tuple[str, ...], FileRow]:
        """The page's contract rows, validated in one call; when some row is refused, the
        page is validated again row by row so that each refusal is reported and the
        other rows kept."""
        assert spec.model is not None
        pairs = [(row, values) for row in page if (values := spec.to_contract(row)) is not None]
        try:
            checked: list[FileRow | None] = list(
                _page_adapter(spec.model).validate_python(
                    [values for _row, values in pairs], context=self.context
                )
            )
        except ValidationError:
            checked = [self._validated(spec, row, values) for row, values in pairs]
        result.skipped += sum(row is None for row in checked)
        return {row.key(): row for row in checked if row is not None}

    def _validated(self, spec: TableSpec, row: Row, values: Row) -> FileRow | None:
        assert spec.model is not None
        try:
            return spec.model.model_validate(values, context=self.context)
        except ValidationError as error:
            for item in error.errors(include_url=False):
                column, allowed = refused(spec.model, item)
                self.report.problems.add(
                    RowProblem(
                        spec.entity_set,
                        str(row[spec.primary_id]),
                        spec.source.get(column, column),
                        item.get("input"),
                        allowed,
                    )
                )
            return None

    def _write_stakeholders(self, session: Session, page: Page, result: TablePull) -> None:
        kept, removed = [], list(page.deleted)
        for row in page.rows:
            found = stakeholder(row, self.roles)
            if found is None:
                removed.append(str(row["connectionid"]))
            else:
                kept.append(
                    (found.connection_id, found.opportunity_id, found.contact_id, found.role)
                )
        store.replace_stakeholders(session=session, removed=removed, kept=kept)
        result.written += len(kept)
        result.deleted += len(page.deleted)

    def _write_parties(self, session: Session, page: Page, result: TablePull) -> None:
        """Each party the page names leaves the map; those that take part in the
        conversation and name a user, contact or lead Rapport knows (by record, else by
        address, as the CRM ingest matches a party: storage.directory) go in."""
        assert self.directory is not None
        match_record, match_address = self.directory.match_record, self.directory.match_address
        kept: list[tuple[str | None, ...]] = []
        named = list(page.deleted)
        for row in page.rows:
            if not row.get("_activityid_value"):
                # A party of no activity: malformed. Reported, and what the map holds
                # for it stays (it is not named).
                self.report.problems.add(
                    RowProblem(
                        "activityparties",
                        str(row["activitypartyid"]),
                        "activityid",
                        row.get("_activityid_value"),
                        "the activity the party belongs to",
                    )
                )
                result.skipped += 1
                continue
            named.append(str(row["activitypartyid"]))
            found = party(row)
            if found is None:
                continue
            address = found.address  # stripped
            addressed = match_address(address)
            matched = match_record(found.party_type, found.party_record) or addressed
            if matched is None:
                if address and "@" in address:
                    self.report.addresses_not_kept += 1
                continue
            kept.append(
                (
                    found.party_id,
                    found.activity_id,
                    found.role,
                    address.lower() if address and addressed else None,
                    *matched,
                )
            )
        store.write_party_page(session=session, named=named, kept=kept)
        result.written += len(kept)
        result.deleted += len(page.deleted)

    def _holds_none(self, spec: TableSpec) -> bool:
        if spec.model is None:
            return False
        with Session(self.engine) as session:
            return store.holds_none(session=session, table=spec.model.table, kind=_kind(spec))

    def _sweep(self, spec: TableSpec, seen: set[str]) -> int:
        """After a re-baseline: contract rows of this table the full read did not find."""
        if spec.model is None:
            return 0
        table = file_store.TABLES[spec.model.table]
        query = sa.select(table.c.id)
        kind = _kind(spec)
        if kind is not None:
            query = query.where(table.c.kind == kind)
        with session_scope(self.engine) as session:
            gone = [str(i) for i in session.scalars(query) if str(i) not in seen]
            return store.delete_records(session=session, table=spec.model.table, ids=gone)


def _kind(spec: TableSpec) -> str | None:
    """The activity kind a table's rows become (crm_activity holds every kind)."""
    if spec.model is None or spec.model.table != "crm_activity":
        return None
    return str((spec.to_contract({spec.primary_id: "-"}) or {}).get("kind"))

"""`rapport crm import FILE`: a CRM's records and activities from a file, row by row.

The file is read twice, as a stream. The survey learns every id, validates
every record on its own (crm.file_rows), rejects ids given twice and records
whose references name nothing (in the file or the store), following a
rejected record to the records that name it. The write pass validates again
(activities only there: no record names one), checks each activity's
references and parties, compares every row with the stored one and writes
only what is new or changed, in one transaction: a file imports whole or,
if the store fails, not at all. crm.file_report words each refusal.

A rejected row is reported by file, line (JSON: also the row's JSON
pointer) and column, with what the column allows; the other rows are
imported. Nothing stored is deleted: a row the file leaves out stays, a
column the file leaves out keeps its value, and an activity whose parties
are not all valid keeps the parties it had. A party's address that matches
no user, contact or lead is not kept (data minimisation, as for Exchange).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from crm import file_store
from crm.file_reading import ACTIVITY_TABLE, PARTY_TABLE, SourceRow, source_rows
from crm.file_report import (
    ROW_SKIPPED,
    ImportProblem,
    ImportReport,
    Key,
    handled,
    raw_key,
    validated,
)
from crm.file_rows import MODELS, ActivityRow, FileRow, PartyRow, RowContext
from storage.crm_activity_rules import TimeWindow
from storage.directory import Directory, load_directory, normalise_address
from storage.engine import session_scope

BATCH = 1_000  # rows compared and written together
PEOPLE = ("system_user", "contact", "lead")  # the tables a party's address may match


@dataclass
class Survey:
    """What the first read learns: valid keys, refused rows, and what records name."""

    # table -> key -> (index, line) of the row giving it
    keys: dict[str, dict[Key, tuple[int, int]]] = field(default_factory=lambda: defaultdict(dict))
    repeated: dict[str, dict[Key, list[tuple[int, int]]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    origin: dict[str, SourceRow] = field(default_factory=dict)  # each table's first row
    rejected: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    # record rows that name other records: (table, index, where, id, [(column, table, id)])
    naming: list[tuple[str, int, str, Key, list[tuple[str, str, str]]]] = field(
        default_factory=list
    )
    addresses: set[str] = field(default_factory=set)  # of valid users, contacts, leads

    def valid(self, table: str, record_id: str) -> bool:
        return (record_id,) in self.keys[table]

    def where(self, table: str, index: int, line: int) -> str:
        """Where a row of `table` is, from its position (rows are not kept)."""
        first = self.origin[table]
        pointer = f"/{table}/{index}" if first.pointer else None
        return SourceRow(first.file, table, index, line, {}, pointer).where()


class FileImport:
    """One import of one file into one store."""

    def __init__(self, path: Path, engine: Engine, *, now: datetime, dry_run: bool) -> None:
        self.path, self.engine = path, engine
        self.file = str(path)
        self.context = RowContext(TimeWindow.around(now))
        self.report = ImportReport(self.file, dry_run)
        self.survey = Survey()
        self.stored_ids: dict[str, set[str]] = defaultdict(set)
        self.directory: Directory | None = None

    def reject(self, table: str, index: int | None, problems: Sequence[ImportProblem]) -> None:
        if index is None or index not in self.survey.rejected[table]:
            self.report.tables[table].rejected += 1
        if index is not None:
            self.survey.rejected[table].add(index)
        for problem in problems:
            self.report.add(problem)

    # -- the survey -----------------------------------------------------------------

    def run_survey(self) -> None:
        for row in source_rows(self.path, with_parties=False):
            self._survey_row(row)
        self._refuse_repeated_keys()
        with Session(self.engine) as session:
            self._refuse_unknown_records(session)

    def _survey_row(self, row: SourceRow) -> None:
        table = row.table
        self.survey.origin.setdefault(table, row)
        key = raw_key(row)
        if key is not None:
            if key in self.survey.keys[table]:
                self.survey.repeated[table].setdefault(key, []).append((row.index, row.line))
            else:
                self.survey.keys[table][key] = (row.index, row.line)
        if table == ACTIVITY_TABLE:
            return  # no record names an activity: it is validated once, when written
        parsed, problems = validated(row, self.context)
        if parsed is None:
            self.reject(table, row.index, problems)
            return
        if table in PEOPLE:
            for column in ("email", "email2", "email3"):
                address = getattr(parsed, column, None)
                if address:
                    self.survey.addresses.add(normalise_address(address))
        if parsed.referenced():
            self.survey.naming.append(
                (table, row.index, row.where(), parsed.key(), parsed.referenced())
            )

    def _refuse_repeated_keys(self) -> None:
        """An id given twice in one table: the file is ambiguous, so neither row is taken."""
        for table, repeats in self.survey.repeated.items():
            columns = "/".join(MODELS[table].key_columns)
            for key, others in repeats.items():
                first = self.survey.keys[table].pop(key)
                places = [
                    (index, self.survey.where(table, index, line))
                    for index, line in (first, *others)
                ]
                lines = ", ".join(where for _, where in places)
                for index, where in places:
                    problem = ImportProblem(
                        where,
                        table,
                        "/".join(key),
                        columns,
                        "/".join(key),
                        f"an id given once per table (given at {lines})",
                    )
                    self.reject(table, index, [problem])
        for table, indices in self.survey.rejected.items():
            keys = self.survey.keys[table]
            for key in [key for key, (index, _) in keys.items() if index in indices]:
                del keys[key]

    def _refuse_unknown_records(self, session: Session) -> None:
        """Records naming a record neither the file (validly) nor the store holds.

        Repeated until nothing changes: a record refused here may be the one
        another record names.
        """
        named: dict[str, set[str]] = defaultdict(set)
        for *_, references in self.survey.naming:
            for _, table, record_id in references:
                named[table].add(record_id)
        for table, ids in named.items():
            self.stored_ids[table] |= file_store.existing_ids(session, table, ids)
        pending = self.survey.naming
        while pending:
            still, refused = [], False
            for entry in pending:
                table, index, where, key, references = entry
                problem = self._unknown_reference(where, table, key, references)
                if problem is None:
                    still.append(entry)
                    continue
                self.reject(table, index, [problem])
                self.survey.keys[table].pop(key, None)
                refused = True
            pending = still if refused else []

    def _known(self, table: str, record_id: str) -> bool:
        return self.survey.valid(table, record_id) or record_id in self.stored_ids[table]

    def _unknown_reference(
        self, where: str, table: str, key: Key, references: list[tuple[str, str, str]]
    ) -> ImportProblem | None:
        for column, target, record_id in references:
            if not self._known(target, record_id):
                return ImportProblem(
                    where,
                    table,
                    "/".join(key),
                    column,
                    record_id,
                    f"the id of {'an' if target[0] in 'aeiou' else 'a'} {target} in this file "
                    "(a valid row) or in the store",
                )
        return None

    # -- the write pass ----------------------------------------------------------------

    def run_writes(self, session: Session) -> None:
        batch: list[tuple[SourceRow, FileRow]] = []
        for row in source_rows(self.path, with_parties=True):
            if batch and (row.table != batch[0][0].table or len(batch) >= BATCH):
                self._write_batch(session, batch)
                batch = []
            parsed = self._take(row)
            if parsed is not None:
                batch.append((row, parsed))
        if batch:
            self._write_batch(session, batch)

    def _take(self, row: SourceRow) -> FileRow | None:
        """The row to compare and write, or None when it is refused."""
        if row.index in self.survey.rejected[row.table] and row.table != PARTY_TABLE:
            return None  # reported by the survey
        if row.table == PARTY_TABLE:  # a CSV party row whose activity is not in the bundle
            problem = ImportProblem(
                row.where(),
                row.table,
                None,
                "activity_id",
                row.values.get("activity_id"),
                "the id of an activity in crm_activity.csv",
            )
            self.reject(row.table, None, [problem])
            return None
        parsed, problems = validated(row, self.context)
        if parsed is None:
            self.reject(row.table, row.index, problems)
        return parsed

    def _write_batch(self, session: Session, batch: list[tuple[SourceRow, FileRow]]) -> None:
        model = type(batch[0][1])
        if model is ActivityRow:
            batch = self._activities_known(session, batch)
        rows = [parsed for _, parsed in batch]
        stored = file_store.stored_rows(session, model, [row.key() for row in rows])
        writes = file_store.classify(rows, stored)
        counts = self.report.tables[model.table]
        counts.inserted += len(writes.inserted)
        counts.updated += len(writes.updated)
        counts.unchanged += writes.unchanged
        if not self.report.dry_run:
            file_store.write(session, model, writes)
        if model is ActivityRow:
            self._write_parties(session, batch)

    def _activities_known(
        self, session: Session, batch: list[tuple[SourceRow, FileRow]]
    ) -> list[tuple[SourceRow, FileRow]]:
        """The activities whose owner and regarding record exist; the rest refused."""
        self._look_up(session, [ref for _, parsed in batch for ref in parsed.referenced()])
        kept = []
        for row, parsed in batch:
            where = row.where()
            problem = self._unknown_reference(where, row.table, parsed.key(), parsed.referenced())
            if problem is None:
                kept.append((row, parsed))
            else:
                self.reject(row.table, row.index, [problem])
        return kept

    def _look_up(self, session: Session, references: list[tuple[str, str, str]]) -> None:
        """Learn which of these records the store holds (those the file has are known)."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for _, table, record_id in references:
            if not self._known(table, record_id):
                wanted[table].add(record_id)
        for table, ids in wanted.items():
            self.stored_ids[table] |= file_store.existing_ids(session, table, ids)

    # -- parties ------------------------------------------------------------------------

    def _write_parties(self, session: Session, batch: list[tuple[SourceRow, FileRow]]) -> None:
        given: dict[str, file_store.PartySet] = {}
        for row, activity in batch:
            if row.parties is None:
                continue  # the file says nothing of its parties: they stay as stored
            valid = self._valid_parties(session, row, activity)
            if valid is not None:
                given[activity.key()[0]] = file_store.party_set(valid)
        if not given:
            return
        stored = file_store.stored_parties(session, sorted(given))
        counts = self.report.tables[PARTY_TABLE]
        replaced = {}
        for activity_id, parties in given.items():
            before = stored.get(activity_id, [])
            if parties == before:
                counts.unchanged += len(parties)
                continue
            counts.inserted += len(parties)
            counts.removed += len(before)
            replaced[activity_id] = parties
        if replaced and not self.report.dry_run:
            file_store.replace_parties(session, replaced)

    def _valid_parties(
        self, session: Session, row: SourceRow, activity: FileRow
    ) -> list[PartyRow] | None:
        """The activity's parties as they will be stored; None if any party is refused."""
        assert row.parties is not None
        parsed: list[PartyRow] = []
        refused = False
        for party_row in row.parties:
            party, problems = validated(party_row, self.context)
            if party is not None:
                self._look_up(session, party.referenced())
                problem = self._unknown_reference(
                    party_row.where(), PARTY_TABLE, activity.key(), party.referenced()
                )
                problems = [problem] if problem is not None else []
            if problems:
                handling = f"{ROW_SKIPPED}; activity {activity.key()[0]} keeps its stored parties"
                problems = [handled(problem, handling) for problem in problems]
                self.reject(PARTY_TABLE, None, problems)
                refused = True
            elif isinstance(party, PartyRow):
                parsed.append(party)
        if refused:
            return None
        return [kept for party in parsed if (kept := self._minimised(session, party)) is not None]

    def _minimised(self, session: Session, party: PartyRow) -> PartyRow | None:
        """The party without an address that matches nobody in the CRM (or one erased)."""
        if party.address is None or self._matches_someone(session, party.address):
            return party
        self.report.addresses_not_kept += 1
        if party.record_id is None:
            return None
        return party.model_copy(update={"address": None})

    def _matches_someone(self, session: Session, address: str) -> bool:
        if self.directory is None:
            self.directory = load_directory(session=session)
        if self.directory.erased_address(address):
            return False
        if normalise_address(address) in self.survey.addresses:
            return True
        return self.directory.match_address(address) is not None


def import_file(path: Path, engine: Engine, *, now: datetime, dry_run: bool) -> ImportReport:
    """Import the file at `path` (JSON or a CSV bundle) into the store; see the module doc.

    Raises crm.file_reading.ImportFileError when the file cannot be read as a whole.
    """
    run = FileImport(path, engine, now=now, dry_run=dry_run)
    run.run_survey()
    with session_scope(engine) as session:
        run.run_writes(session)
        if dry_run:
            session.rollback()
    run.report.in_file_order()
    return run.report

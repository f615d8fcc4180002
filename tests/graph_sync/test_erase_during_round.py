"""An erasure committed between two page commits of an Exchange round leaves nothing of
the subject when the tick ends (docs/compliance.md, "An erasure during a run").

The round loaded the directory before the erase, so the pages after it
still match the subject; the sweep that ends the round removes what they
wrote. The erase is a real `erase_subject`, run when the emulator serves an
inbox page of Adele's mailbox.
"""

from __future__ import annotations

import datetime as dt

import pytest

from compliance import erase_subject, export_subject, list_audit
from emulator.stats import LogEntry
from emulator.testing import FixtureBuilder
from tests.compliance.scan import occurrences
from tests.graph_sync.conftest import ADELE, ALEX, NOW, Exchange

START = dt.datetime(2024, 4, 1, 8, tzinfo=dt.UTC)
BULK = 40  # added to the standard inbox's 12: several pages of ten
ERASE_AT_PAGE = 2
SUBJECTS = {
    "customer": (ALEX, ("c-alex", "Alex Wilber")),
    "colleague": (ADELE, ("u-adele", "Adele Vance")),
}


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard().inbox_burst(ADELE, ALEX, BULK, START)


@pytest.mark.parametrize("who", SUBJECTS, ids=SUBJECTS.keys())
async def test_an_erase_between_page_commits_leaves_nothing_when_the_tick_ends(
    exchange: Exchange, who: str
) -> None:
    address, names = SUBJECTS[who]
    inbox_id = exchange.emulator.state.mailbox(ADELE).folder("inbox").spec.id
    # A colleague is also named by their mailbox's Graph object id.
    needles = (address, *names, exchange.user_id(ADELE) if who == "colleague" else address)
    pages: list[LogEntry] = []

    def erase_mid_round(entry: LogEntry) -> None:
        if inbox_id in entry.path and entry.path_kind == "messages":
            pages.append(entry)
            if len(pages) == ERASE_AT_PAGE:
                erase_subject(exchange.engine, address, now=NOW, dry_run=False)

    exchange.after_request(erase_mid_round)
    await exchange.tick(page_size=10)

    assert len(pages) > ERASE_AT_PAGE, "the round read pages after the erase"
    assert [e["action"] for e in list_audit(exchange.engine)].count("subject_erased") == 1
    assert occurrences(exchange.engine, needles) == []
    assert not export_subject(exchange.engine, address, now=NOW).holds_data

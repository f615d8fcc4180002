"""Tables of the Dataverse connector (docs/dataverse.md): what it needs to pull
incrementally and to push only what changed.

- `dataverse_cursor`: per entity set, the delta link of the last complete round and,
  while a round is being paged, the next page's link; each is committed in the same
  transaction as the rows of the page it follows.
- `dataverse_party` and `dataverse_stakeholder`: the Dataverse ids behind contract rows
  that have none of their own (an activity party, a stakeholder connection), so that a
  change or a delete Dataverse reports by that id reaches the right contract row. A
  party holds only what the contract keeps (a matched record, or a matched address).
- `dataverse_push`: per record, a digest of the health values last written to
  Dataverse and those values (what `rapport export` lists), so a push writes only
  records whose health changed, and a failed batch is retried by the next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.types import KEY_TEXT, UTCDateTime


def _utc() -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))


class DataverseCursor(SQLModel, table=True):
    __tablename__ = "dataverse_cursor"

    entity_set: str = Field(primary_key=True)
    delta_link: str | None = None  # the round's end: where the next round starts
    next_link: str | None = None  # mid-round: the page to read next
    baseline_at: datetime | None = _utc()  # when the table's last full read started
    synced_at: datetime | None = _utc()


class DataverseParty(SQLModel, table=True):
    __tablename__ = "dataverse_party"

    party_id: str = Field(primary_key=True)  # activitypartyid
    activity_id: str = Field(index=True, sa_type=KEY_TEXT)
    role: str
    address: str | None = None
    record_type: str | None = Field(default=None, sa_type=KEY_TEXT)
    record_id: str | None = Field(default=None, sa_type=KEY_TEXT)


class DataverseStakeholder(SQLModel, table=True):
    __tablename__ = "dataverse_stakeholder"

    connection_id: str = Field(primary_key=True)
    opportunity_id: str = Field(index=True, sa_type=KEY_TEXT)
    contact_id: str = Field(sa_type=KEY_TEXT)
    role: str | None = None


class DataversePush(SQLModel, table=True):
    __tablename__ = "dataverse_push"

    record_type: str = Field(primary_key=True, sa_type=KEY_TEXT)
    record_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    digest: str  # of the values below; a record whose health digest differs is pushed
    pushed_values: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON()))
    pushed_at: datetime | None = _utc()
    # "pushed", "failed" (the next run retries), "missing" (deleted in Dataverse)
    outcome: str = "pushed"

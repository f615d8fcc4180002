"""A full scan of the store for a subject's identifiers.

Tables and columns are enumerated from the live database, so a table added by
a future migration is scanned without touching this file. Only the CRM-owned
tables are narrowed, to the `health_*` columns Rapport writes on them: the
rest of a CRM row belongs to the CRM, which erases its own records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage import crm_tables

CRM_OWNED = frozenset(
    model.__tablename__
    for model in vars(crm_tables).values()
    if isinstance(model, type) and issubclass(model, SQLModel) and hasattr(model, "__table__")
)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def scanned_columns(table: sa.Table) -> list[sa.Column[Any]]:
    if table.name in CRM_OWNED:
        return [column for column in table.columns if column.name.startswith("health_")]
    return list(table.columns)


def occurrences(engine: Engine, needles: Iterable[str]) -> list[str]:
    """`table.column: needle` for every stored value that contains a needle (any case)."""
    # Both spellings: a JSON column may come back as raw text with \\u escapes.
    wanted = {n.lower() for needle in needles for n in (needle, json.dumps(needle)[1:-1])}
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    hits = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = scanned_columns(table)
            if not columns:
                continue
            for row in connection.execute(sa.select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    text = _text(value).lower()
                    hits += [f"{table.name}.{column.name}: {n}" for n in wanted if n in text]
    return sorted(set(hits))


def tables_mentioning(engine: Engine, needles: Iterable[str]) -> set[str]:
    return {hit.split(".", 1)[0] for hit in occurrences(engine, needles)}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for before/after comparisons."""
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(_text(v) for v in row) for row in connection.execute(sa.select(table))),
            )
            for table in metadata.sorted_tables
        }

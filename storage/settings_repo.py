"""Relationship-analytics admin settings, stored as one JSON value per key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.rapport_tables import RiSetting


def load_settings(*, session: Session) -> dict[str, Any]:
    rows = session.execute(sa.select(RiSetting.key, RiSetting.value))  # type: ignore[call-overload]
    return {str(key): value for key, value in rows}


def save_settings(*, session: Session, values: Mapping[str, Any], at: datetime) -> None:
    """Upsert the given keys in the caller's transaction."""
    for key, value in values.items():
        updated = session.execute(
            sa.update(RiSetting)
            .where(RiSetting.key == key)  # type: ignore[arg-type]
            .values(value=value, updated_at=at)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.execute(sa.insert(RiSetting).values(key=key, value=value, updated_at=at))

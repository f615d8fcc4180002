"""The audit log read back as plain dicts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from compliance import list_audit
from storage.audit import record_event
from storage.engine import session_scope
from tests.compliance.scenario import NOW


def test_events_come_back_oldest_first_and_since_filters(engine: Engine) -> None:
    with session_scope(engine) as session:
        for days, action in ((3, "older"), (1, "newer")):
            record_event(
                session=session,
                at=NOW - timedelta(days=days),
                command="settings set",
                action=action,
                details={"key": "influence.email"},
                actor="tester",
            )

    events = list_audit(engine)
    recent = list_audit(engine, since=NOW - timedelta(days=2))

    assert [e["action"] for e in events] == ["older", "newer"]
    assert [e["action"] for e in recent] == ["newer"]
    assert set(events[0]) == {"id", "at", "actor", "command", "action", "subject", "details"}
    assert events[0]["at"] == NOW - timedelta(days=3)
    assert events[0]["details"] == {"key": "influence.email"}

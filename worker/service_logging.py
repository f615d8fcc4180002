"""Every log event of the worker names its replica, and during a sync round the round.

A filter on the root handlers merges these into the event's fields (both formats of
worker.logging_setup print `fields`), so graph_sync's per-mailbox events say which
replica synced the mailbox in which round without knowing about replicas.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

ROUND: ContextVar[int | None] = ContextVar("rapport_round", default=None)


class ServiceFields(logging.Filter):
    def __init__(self, replica: str) -> None:
        super().__init__()
        self.replica = replica

    def filter(self, record: logging.LogRecord) -> bool:
        fields: dict[str, object] = {"replica": self.replica}
        round_ = ROUND.get()
        if round_ is not None:
            fields["round"] = round_
        record.fields = {**fields, **getattr(record, "fields", {})}
        return True


def install(replica: str) -> None:
    """Add the replica (and round) to every event of the root handlers; idempotent.
    (Per-request chatter of the HTTP and identity libraries is held back by
    worker.logging_setup's handler filter, for the service and every command alike.)"""
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, ServiceFields)]
        handler.addFilter(ServiceFields(replica))

"""Changes and faults applied from tests: the Python side of /_emulator/."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from emulator.errors import GraphError, utc_now_iso
from emulator.faults import FaultPlan, FaultRule
from emulator.fixture import AppRegistration, stable_id
from emulator.state import Mailbox, TenantState
from emulator.stats import LogEntry, Stats
from emulator.store import Collection, Item

T = TypeVar("T")
EXPIRY_MODES = ("gone", "syncStateNotFound")


class AdminError(LookupError):
    """An admin request names something that does not exist or is invalid."""


class TenantAdmin:
    """Mutations of the live tenant. `Emulator` inherits these, so tests call them directly."""

    def __init__(self, state: TenantState, faults: FaultPlan, stats: Stats) -> None:
        self.state = state
        self.faults = faults
        self.stats = stats
        self._ids = itertools.count(1)

    # -- messages -------------------------------------------------------------
    def add_message(self, user: str, message: Item, folder: str = "inbox") -> Item:
        mailbox = self._mailbox(user)
        target = self._lookup(lambda: mailbox.folder(folder))
        item = {
            "id": stable_id(mailbox.user.id, "added", str(next(self._ids))),
            **message,
            "parentFolderId": target.spec.id,
            "lastModifiedDateTime": message.get("lastModifiedDateTime", utc_now_iso() + "Z"),
        }
        target.collection.put(item)
        return item

    def update_message(self, user: str, message_id: str, changes: dict[str, Any]) -> Item:
        mailbox = self._mailbox(user)
        folder = mailbox.folder_of_message(message_id)
        if folder is None:
            raise AdminError(f"no message {message_id!r} in mailbox {user!r}")
        return self._update(folder.collection, message_id, changes)

    def delete_message(self, user: str, message_id: str, reason: str = "deleted") -> None:
        folder = self._mailbox(user).folder_of_message(message_id)
        if folder is None or not folder.collection.remove(message_id, reason):
            raise AdminError(f"no message {message_id!r} in mailbox {user!r}")

    # -- events ---------------------------------------------------------------
    def add_event(self, user: str, event: Item) -> Item:
        mailbox = self._mailbox(user)
        item = {"id": stable_id(mailbox.user.id, "event", str(next(self._ids))), **event}
        mailbox.calendar.put(item)
        return item

    def update_event(self, user: str, event_id: str, changes: dict[str, Any]) -> Item:
        return self._update(self._mailbox(user).calendar, event_id, changes)

    def delete_event(self, user: str, event_id: str) -> None:
        if not self._mailbox(user).calendar.remove(event_id):
            raise AdminError(f"no event {event_id!r} in mailbox {user!r}")

    # -- consent --------------------------------------------------------------
    def grant_role(self, client_id: str, role: str) -> None:
        self._app(client_id).roles.add(role)

    def revoke_role(self, client_id: str, role: str) -> None:
        self._app(client_id).roles.discard(role)

    def set_roles(self, client_id: str, roles: list[str]) -> None:
        self._app(client_id).roles = set(roles)

    # -- sync state -----------------------------------------------------------
    def expire_delta(self, user: str, folder: str = "inbox", mode: str = "gone") -> None:
        """Invalidate every outstanding token of a folder ("calendar": the calendarView)."""
        if mode not in EXPIRY_MODES:
            raise AdminError(f"mode must be one of {EXPIRY_MODES}")
        mailbox = self._mailbox(user)
        collection = (
            mailbox.calendar
            if folder == "calendar"
            else self._lookup(lambda: mailbox.folder(folder)).collection
        )
        collection.expire(mode)

    # -- faults and counters --------------------------------------------------
    def add_fault(self, rule: FaultRule | None = None, **fields: Any) -> FaultRule:
        rule = rule or FaultRule(**fields)
        if rule.mailbox is not None:
            rule.mailbox = self._mailbox(rule.mailbox).user.id
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def request_log(self) -> list[LogEntry]:
        return list(self.stats.log)

    def reset_stats(self) -> None:
        self.stats.reset()

    # -- helpers --------------------------------------------------------------
    def _mailbox(self, user: str) -> Mailbox:
        return self._lookup(lambda: self.state.mailbox(user))

    def _app(self, client_id: str) -> AppRegistration:
        app = self.state.apps.get(client_id)
        if app is None:
            raise AdminError(f"no app registration {client_id!r}")
        return app

    @staticmethod
    def _lookup(find: Callable[[], T]) -> T:
        try:
            return find()
        except GraphError as exc:
            raise AdminError(exc.message) from None

    @staticmethod
    def _update(collection: Collection, item_id: str, changes: dict[str, Any]) -> Item:
        current = collection.current(item_id)
        if current is None:
            raise AdminError(f"no item {item_id!r}")
        updated = {**current, **changes, "id": item_id}
        collection.put(updated)
        return updated

"""The live tenant: directory, mailboxes (created lazily), app registrations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.errors import GraphError
from emulator.fixture import Fixture, FolderSpec, UserSpec
from emulator.store import Baseline, Collection, ListBaseline


@dataclass
class Folder:
    spec: FolderSpec
    collection: Collection
    child_ids: list[str] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "displayName": self.spec.display_name,
            "parentFolderId": self.spec.parent_folder_id,
            "childFolderCount": len(self.child_ids),
            "unreadItemCount": 0,
            "totalItemCount": len(self.collection.baseline),
            "isHidden": False,
        }


class Mailbox:
    def __init__(self, user: UserSpec, folders: list[Folder], calendar: Collection) -> None:
        self.user = user
        self.folders = {f.spec.id: f for f in folders}
        self.top_level = [f.spec.id for f in folders if f.spec.parent_folder_id not in self.folders]
        self.well_known = {
            f.spec.well_known_name.lower(): f.spec.id for f in folders if f.spec.well_known_name
        }
        self.calendar = calendar

    def folder(self, segment: str) -> Folder:
        folder_id = self.well_known.get(segment.lower(), segment)
        folder = self.folders.get(folder_id)
        if folder is None:
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return folder

    def folder_of_message(self, message_id: str) -> Folder | None:
        for folder in self.folders.values():
            if folder.collection.current(message_id) is not None:
                return folder
        return None


def _flatten(specs: list[FolderSpec]) -> list[FolderSpec]:
    out: list[FolderSpec] = []
    for spec in specs:
        out.append(spec)
        out.extend(_flatten(spec.children))
    return out


def _explicit_messages(spec: FolderSpec) -> list[dict[str, Any]]:
    return [{**m, "parentFolderId": m.get("parentFolderId", spec.id)} for m in spec.messages]


class TenantState:
    def __init__(self, fixture: Fixture) -> None:
        self.fixture = fixture
        self.tenant = fixture.tenant
        self.apps = {app.client_id: app for app in fixture.apps}
        self.users = fixture.users
        self._by_key: dict[str, UserSpec] = {}
        for user in self.users:
            for key in (
                user.id,
                user.properties.get("userPrincipalName"),
                user.properties.get("mail"),
            ):
                if key:
                    self._by_key.setdefault(str(key).lower(), user)
        self._mailboxes: dict[str, Mailbox] = {}

    def find_user(self, segment: str) -> UserSpec | None:
        return self._by_key.get(segment.lower())

    def user(self, segment: str) -> UserSpec:
        user = self.find_user(segment)
        if user is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{segment}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        return user

    def mailbox(self, segment: str) -> Mailbox:
        user = self.find_user(segment)
        if user is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{segment}' is invalid.")
        if not user.has_mailbox:
            raise GraphError(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        mailbox = self._mailboxes.get(user.id)
        if mailbox is None:
            mailbox = self._build_mailbox(user)
            self._mailboxes[user.id] = mailbox
        return mailbox

    def _build_mailbox(self, user: UserSpec) -> Mailbox:
        specs = _flatten(user.folders)
        synthetic = self._synthetic_source(user)
        folders = []
        for spec in specs:
            baseline: Baseline = ListBaseline(_explicit_messages(spec))
            if synthetic is not None and not spec.messages and spec.well_known_name:
                baseline = synthetic.folder_baseline(spec.well_known_name, spec.id) or baseline
            folders.append(Folder(spec, Collection(baseline), [c.id for c in spec.children]))
        events: Baseline = ListBaseline(list(user.events))
        if synthetic is not None and not user.events:
            events = synthetic.calendar_baseline()
        return Mailbox(user, folders, Collection(events))

    def _synthetic_source(self, user: UserSpec) -> Any:
        if self.fixture.generated is None:
            return None
        from emulator.synthetic import SyntheticMailbox

        return SyntheticMailbox(self.fixture, user)

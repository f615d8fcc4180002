"""Mailboxes synthesised on demand from (seed, user index): large tenants at no memory cost.

Messages come in blocks of BLOCK conversations-worth of mail; a block is a pure
function of (seed, user, block number), so any page of any folder can be rebuilt
at any time, and message ids encode where they came from. Internal colleagues
appear as counterparts but the colleague's own mailbox does not hold the copy.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import itertools
import math
import random
import struct
from collections.abc import Callable
from typing import Any

import msgspec

from emulator.fixture import Fixture, GeneratedSpec, UserSpec
from emulator.names import COMPANY_WORDS_A, COMPANY_WORDS_B, FIRST_NAMES, LAST_NAMES, SUBJECT_WORDS
from emulator.store import Item
from emulator.synthetic_events import events_for
from emulator.synthetic_render import Parts, encode_address, renderer

INBOX_PER_BLOCK = 550
SENT_PER_BLOCK = 450
CANARY = "RAPPORT-CANARY"
_ID = struct.Struct(">IIBH")
_FOLDERS = {"inbox": 0, "sentitems": 1}
# (sent at, transit seconds, counterpart, cc colleague, outbound, conversation id, topic, turn)
Spec = tuple[float, int, dict[str, Any], dict[str, Any] | None, bool, str, str, int]


def rng_for(*parts: object) -> random.Random:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def account(seed: int, index: int) -> dict[str, str]:
    """Customer account `index` of the synthetic universe: name and email domain."""
    a, b = len(COMPANY_WORDS_A), len(COMPANY_WORDS_B)
    first, second = COMPANY_WORDS_A[(index + seed) % a], COMPANY_WORDS_B[(index // a) % b]
    suffix = "" if index < a * b else str(index // (a * b))
    return {
        "name": f"{first.title()} {second.title()}{suffix}",
        "domain": f"{first}{second}{suffix}.example",
    }


def contacts_in(seed: int, index: int) -> int:
    return 2 + rng_for(seed, "size", index).randrange(5)


def contact(seed: int, account_index: int, n: int) -> dict[str, str]:
    rng = rng_for(seed, "contact", account_index, n)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = account(seed, account_index)["domain"]
    return {"firstName": first, "lastName": last, "email": f"{first}.{last}{n}@{domain}".lower()}


def _address(name: str, email: str) -> dict[str, Any]:
    return {"emailAddress": {"name": name, "address": email}}


@functools.lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return dt.datetime.fromtimestamp(day * 86400, dt.UTC).strftime("%Y-%m-%dT")


def _iso(epoch: float) -> str:
    # strftime per message dominated generation time; format the day once, the clock by hand.
    seconds = int(epoch)
    day, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{_day(day)}{hours:02d}:{minutes:02d}:{secs:02d}Z"


class SyntheticMailbox:
    def __init__(self, fixture: Fixture, user: UserSpec) -> None:
        assert fixture.generated is not None
        self.spec: GeneratedSpec = fixture.generated
        self.user = user
        self.me = _address(
            str(user.properties.get("displayName")), str(user.properties.get("mail"))
        )
        self.domain = str(user.properties.get("mail", "@x")).split("@")[1]
        rng = rng_for(self.spec.seed, "pool", user.index)
        accounts = max(1, self.spec.accounts)
        self.contacts = []
        for _ in range(rng.randrange(15, 45)):
            a = rng.randrange(accounts)
            c = contact(self.spec.seed, a, rng.randrange(contacts_in(self.spec.seed, a)))
            self.contacts.append(_address(f"{c['firstName']} {c['lastName']}", c["email"]))
        others = [u for u in fixture.users if u.index != user.index]
        self.colleagues = [
            _address(str(u.properties.get("displayName")), str(u.properties.get("mail")))
            for u in rng.sample(others, min(len(others), 8))
        ]
        # Heavy tail: a few customers account for most of the mail (Zipf-like weights).
        self.cumulative = list(
            itertools.accumulate(1.0 / (k + 1) ** 1.2 for k in range(len(self.contacts)))
        )
        end = dt.datetime.fromisoformat(self.spec.end).replace(tzinfo=dt.UTC)
        self.end = end.timestamp()
        self.start = self.end - self.spec.days * 86400.0
        self.inbox_total = round(self.spec.messages_per_user * 0.55)
        self.sent_total = self.spec.messages_per_user - self.inbox_total
        self.blocks = max(
            1, -(-self.inbox_total // INBOX_PER_BLOCK), -(-self.sent_total // SENT_PER_BLOCK)
        )
        self.folder_ids = {
            _FOLDERS[f.well_known_name]: f.id for f in user.folders if f.well_known_name in _FOLDERS
        }
        self.message_key = f"syn{self.spec.seed}.{user.index}"
        self._address_json: dict[str, str] = {}
        self._full = renderer(None, frozenset())
        self.block = functools.lru_cache(maxsize=4)(self._block)
        self.folder_block = functools.lru_cache(maxsize=8)(self._folder_block)

    # -- baselines ---------------------------------------------------------------
    def folder_baseline(self, well_known: str, folder_id: str) -> SyntheticFolder | None:
        if well_known not in _FOLDERS:
            return None
        return SyntheticFolder(self, _FOLDERS[well_known], folder_id)

    def calendar_baseline(self) -> Any:
        from emulator.store import ListBaseline

        return ListBaseline(events_for(self, rng_for(self.spec.seed, "events", self.user.index)))

    # -- generation --------------------------------------------------------------
    def message_id(self, block: int, folder: int, offset: int) -> str:
        raw = _ID.pack(self.user.index, block, folder, offset)
        return "AAMkAGSyn" + base64.urlsafe_b64encode(raw).decode("ascii")

    def _folder_block(self, block: int, folder: int) -> list[Item]:
        """Materialise one folder's messages of a block (dicts only for what is read)."""
        return [
            self._message(block, folder, offset, spec)
            for offset, spec in enumerate(self.block(block)[folder])
        ]

    def _block(self, block: int) -> tuple[list[Spec], list[Spec]]:
        rng = rng_for(self.spec.seed, "block", self.user.index, block)
        span = (self.end - self.start) / self.blocks
        lo = self.start + block * span
        inbox: list[Spec] = []
        sent: list[Spec] = []
        conversation = 0
        while len(inbox) < INBOX_PER_BLOCK or len(sent) < SENT_PER_BLOCK:
            conversation += 1
            self._conversation(rng, block, conversation, lo + rng.random() * span, inbox, sent)
        return inbox, sent

    def _conversation(
        self,
        rng: random.Random,
        block: int,
        number: int,
        at: float,
        inbox: list[Spec],
        sent: list[Spec],
    ) -> None:
        colleagues = self.colleagues
        random_ = rng.random
        if colleagues and random_() < 0.2:
            them = colleagues[int(random_() * len(colleagues))]
        else:
            them = rng.choices(self.contacts, cum_weights=self.cumulative)[0]
        inbox_full = len(inbox) >= INBOX_PER_BLOCK
        sent_full = len(sent) >= SENT_PER_BLOCK
        # Once one folder of the block is full, finish with single messages for the other
        # (unanswered mail) instead of generating conversations only to drop half of them.
        outbound = True if inbox_full else False if sent_full else random_() < 0.5
        turns = 1 if inbox_full or sent_full else 1 + min(int(rng.expovariate(0.7)), 7)
        conversation_id = f"AAQkAGSyn{self.user.index:x}-{block:x}-{number:x}"
        topic = SUBJECT_WORDS[int(random_() * len(SUBJECT_WORDS))]
        for turn in range(turns):
            target = sent if outbound else inbox
            if len(target) < (SENT_PER_BLOCK if outbound else INBOX_PER_BLOCK):
                cc = None
                if colleagues and random_() < 0.15:
                    cc = colleagues[int(random_() * len(colleagues))]
                transit = 1 + int(random_() * 19)
                target.append((at, transit, them, cc, outbound, conversation_id, topic, turn))
            # Replies come hours later (log-normal, median ~3 h), sometimes the next day.
            at += math.exp(rng.gauss(9.3, 1.1))
            outbound = not outbound

    def _parts(self, block: int, folder: int, offset: int, spec: Spec) -> Parts:
        at, transit, them, cc, outbound, conversation_id, topic, turn = spec
        sender, recipient = (self.me, them) if outbound else (them, self.me)
        sender_domain = sender["emailAddress"]["address"].split("@")[1]
        return Parts(
            id=self.message_id(block, folder, offset),
            sent=_iso(at),
            received=_iso(at + transit),
            internet_message_id=f"<{self.message_key}.{block}.{folder}.{offset}@{sender_domain}>",
            conversation_id=conversation_id,
            subject=f"{'RE: ' if turn else ''}{topic} {CANARY}",
            parent_folder_id=self.folder_ids[folder],
            sender=self._encoded(sender),
            recipient=self._encoded(recipient),
            cc="" if cc is None else self._encoded(cc),
        )

    def _encoded(self, address: dict[str, Any]) -> str:
        key = address["emailAddress"]["address"]
        text = self._address_json.get(key)
        if text is None:
            text = self._address_json[key] = encode_address(address)
        return text

    def _message(self, block: int, folder: int, offset: int, spec: Spec) -> Item:
        parts = self._parts(block, folder, offset, spec)
        message: Item = msgspec.json.decode(self._full(parts))
        return message

    def render(
        self, block: int, folder: int, render: Callable[[Parts], msgspec.Raw], lo: int, hi: int
    ) -> list[tuple[str, msgspec.Raw]]:
        specs = self.block(block)[folder]
        out = []
        for offset in range(lo, min(hi, len(specs))):
            parts = self._parts(block, folder, offset, specs[offset])
            out.append((parts.id, render(parts)))
        return out

    def find(self, item_id: str) -> Item | None:
        if not item_id.startswith("AAMkAGSyn"):
            return None
        try:
            user, block, folder, offset = _ID.unpack(base64.urlsafe_b64decode(item_id[9:]))
        except (ValueError, struct.error):
            return None
        if user != self.user.index or block >= self.blocks:
            return None
        if folder > 1:
            return None
        items = self.folder_block(block, folder)
        return items[offset] if offset < len(items) else None


class SyntheticFolder:
    """A Baseline over one well-known folder of a synthetic mailbox."""

    def __init__(self, mailbox: SyntheticMailbox, folder: int, folder_id: str) -> None:
        self.mailbox = mailbox
        self.folder = folder
        self.folder_id = folder_id
        self._renderers: dict[
            tuple[tuple[str, ...] | None, frozenset[str]], Callable[[Parts], msgspec.Raw]
        ] = {}
        self.per_block = INBOX_PER_BLOCK if folder == 0 else SENT_PER_BLOCK
        self.total = mailbox.inbox_total if folder == 0 else mailbox.sent_total

    def __len__(self) -> int:
        return self.total

    def items(self, start: int, stop: int) -> list[Item]:
        stop = min(stop, self.total)
        out: list[Item] = []
        position = start
        while position < stop:
            block, offset = divmod(position, self.per_block)
            chunk = self.mailbox.folder_block(block, self.folder)[
                offset : offset + (stop - position)
            ]
            out.extend(chunk)
            position += len(chunk)
        return out

    def render(
        self, start: int, stop: int, fields: tuple[str, ...] | None, withheld: frozenset[str]
    ) -> list[tuple[str, msgspec.Raw]]:
        render = self._renderers.get((fields, withheld))
        if render is None:
            render = self._renderers[(fields, withheld)] = renderer(fields, withheld)
        stop = min(stop, self.total)
        out: list[tuple[str, msgspec.Raw]] = []
        position = start
        while position < stop:
            block, offset = divmod(position, self.per_block)
            chunk = self.mailbox.render(
                block, self.folder, render, offset, offset + stop - position
            )
            out.extend(chunk)
            position += len(chunk)
        return out

    def find(self, item_id: str) -> Item | None:
        item = self.mailbox.find(item_id)
        if item is None or item["parentFolderId"] != self.folder_id:
            return None
        return item

"""What's New: which feed items are about which account, conservatively.

A false match puts someone else's news on a customer's record, which costs a
seller's trust faster than a missed item, so every rule leans towards "no":

1. **Domain.** The item's link is on one of the account's domains (the host
   is the domain or a subdomain of it), or the domain appears in the title or
   summary as a whole token (``contoso.com``, not ``notcontoso.com``).
   Free-mail domains (gmail.com, outlook.com, ...) never count.
2. **Name of two or more words** ("Contoso Pharmaceuticals"): the whole name,
   as whole words, in the title or summary; case and spacing are ignored.
3. **Name of one word** ("Apple"): the same capitalisation, as a whole word,
   *and* a second sign that the company is meant: the name with a legal form
   after it ("Apple Inc.", "Apple Ltd"), or the feed being one configured for
   this account. So "Apple pie recipes" in a general feed never matches;
   "Apple Inc. reports" does.
4. Names shorter than 3 characters (after dropping a legal form) match by
   domain only.

The account's own legal form is dropped before matching ("Contoso Ltd" is
matched as "Contoso" plus rule 3's legal-form sign). Each match says which
rule made it, so a wrong one can be explained.

Pure: plain values in and out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

LEGAL_FORMS: Final = (
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "llp",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "bv",
    "nv",
    "spa",
    "srl",
    "oy",
    "ab",
    "as",
    "kk",
    "pty",
    "group",
)
FREE_MAIL: Final = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "mail.com",
    }
)
MIN_NAME_CHARS: Final = 3
_LEGAL = "|".join(LEGAL_FORMS)
_LEGAL_TAIL = re.compile(rf"[\s,]+(?:{_LEGAL})\.?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AccountTerms:
    account_id: str
    name: str
    domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedItem:
    title: str
    link: str
    summary: str = ""


def core_name(name: str) -> str:
    """The name without a trailing legal form, spaces normalised ("Contoso Ltd." -> "Contoso")."""
    core = " ".join(name.split())
    while True:
        shorter = _LEGAL_TAIL.sub("", core).strip()
        if shorter == core or not shorter:
            return core
        core = shorter


def _domain_reason(item: FeedItem, domains: Sequence[str]) -> str | None:
    host = (urlsplit(item.link).hostname or "").lower()
    text = f"{item.title} {item.summary}".lower()
    for domain in (d.strip().lower().lstrip("@") for d in domains):
        if not domain or domain in FREE_MAIL or "." not in domain:
            continue
        if host == domain or host.endswith("." + domain):
            return f"link is on {domain}"
        if re.search(rf"(?<![\w.-]){re.escape(domain)}(?![\w-]|\.\w)", text):
            return f"mentions {domain}"
    return None


def _words(name: str) -> str:
    """A regex for the name's words, whole, any spacing between them."""
    return r"\s+".join(re.escape(word) for word in name.split())


def _name_reason(item: FeedItem, name: str, own_feed: bool) -> str | None:
    core = core_name(name)
    if len(core) < MIN_NAME_CHARS:
        return None
    text = f"{item.title}\n{item.summary}"
    bounded = rf"(?<!\w){_words(core)}(?!\w)"
    if len(core.split()) > 1:
        found = re.search(bounded, text, re.IGNORECASE)
        return f"names {core!r}" if found else None
    if re.search(bounded, text) is None:  # one word: the same capitalisation
        return None
    if own_feed:
        return f"names {core!r} in the account's own feed"
    legal = re.search(rf"{bounded}[\s,]+(?:{_LEGAL})\b", text, re.IGNORECASE)
    same_case = legal is not None and re.match(bounded, legal.group(0)) is not None
    return f"names {legal.group(0)!r}" if legal is not None and same_case else None


def match_reason(item: FeedItem, account: AccountTerms, *, own_feed: bool = False) -> str | None:
    """Why `item` is about `account` (the rule that matched), or None."""
    return _domain_reason(item, account.domains) or _name_reason(item, account.name, own_feed)


def match_items(
    items: Iterable[FeedItem],
    accounts: Sequence[AccountTerms],
    *,
    own_accounts: frozenset[str] = frozenset(),
) -> list[tuple[FeedItem, AccountTerms, str]]:
    """Every (item, account, reason) that matches; `own_accounts` are the accounts this
    feed was configured for (rule 3's second sign)."""
    return [
        (item, account, reason)
        for item in items
        for account in accounts
        if (reason := match_reason(item, account, own_feed=account.account_id in own_accounts))
    ]

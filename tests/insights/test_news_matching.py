"""What's New matching: conservative rules, scenario table (insights/news_matching.py)."""

from __future__ import annotations

import pytest

from insights.news_matching import AccountTerms, FeedItem, core_name, match_items, match_reason

APPLE = AccountTerms("a-apple", "Apple", ("apple.com",))
CONTOSO = AccountTerms("a-contoso", "Contoso Pharmaceuticals Ltd.", ("contoso.com", "gmail.com"))
IBM = AccountTerms("a-ibm", "IB", ())


def _item(title: str, link: str = "https://news.example/story", summary: str = "") -> FeedItem:
    return FeedItem(title, link, summary)


@pytest.mark.parametrize(
    ("item", "account", "own_feed", "reason"),
    [
        # One-word names: never the fruit.
        (_item("Apple pie recipes for autumn"), APPLE, False, None),
        (_item("The best apple varieties"), APPLE, False, None),
        (_item("Pineapple prices rise"), APPLE, False, None),
        (_item("Apple unveils a new phone"), APPLE, False, None),  # no second sign
        (_item("Apple Inc. reports record quarter"), APPLE, False, "names 'Apple Inc'"),
        (_item("Results", summary="APPLE INC results"), APPLE, False, None),  # other case
        (
            _item("Apple unveils a new phone"),
            APPLE,
            True,
            "names 'Apple' in the account's own feed",
        ),
        (
            _item("Big launch", "https://www.apple.com/newsroom/x"),
            APPLE,
            False,
            "link is on apple.com",
        ),
        (_item("Big launch", "https://apple.com.evil.example/x"), APPLE, False, None),
        (_item("Visit apple.com today"), APPLE, False, "mentions apple.com"),
        (_item("Visit notapple.com today"), APPLE, False, None),
        # Several words: the whole name, any case and spacing; the legal form dropped.
        (
            _item("contoso   pharmaceuticals opens a plant"),
            CONTOSO,
            False,
            "names 'Contoso Pharmaceuticals'",
        ),
        (_item("Contoso opens a plant"), CONTOSO, False, None),
        (_item("Contoso Pharmaceuticalsplus merger"), CONTOSO, False, None),
        # Free-mail domains never count; short names match by domain only.
        (_item("x", "https://mail.gmail.com/y"), CONTOSO, False, None),
        (_item("IB results"), IBM, True, None),
    ],
)
def test_match_reason(
    item: FeedItem, account: AccountTerms, own_feed: bool, reason: str | None
) -> None:
    assert match_reason(item, account, own_feed=own_feed) == reason


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("Contoso Ltd.", "Contoso"),
        ("Fabrikam, Inc.", "Fabrikam"),
        ("Acme Group Ltd", "Acme"),
        ("  Northwind   Traders ", "Northwind Traders"),
        ("Ltd", "Ltd"),
    ],
)
def test_core_name(name: str, core: str) -> None:
    assert core_name(name) == core


def test_match_items_pairs_each_item_with_its_accounts() -> None:
    items = [_item("Apple Inc. and Contoso Pharmaceuticals sign a deal"), _item("Weather")]
    matched = match_items(items, [APPLE, CONTOSO], own_accounts=frozenset())

    assert [(m[0].title[:5], m[1].account_id) for m in matched] == [
        ("Apple", "a-apple"),
        ("Apple", "a-contoso"),
    ]

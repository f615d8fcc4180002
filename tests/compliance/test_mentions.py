"""Whole-word, any-case matching of a subject's identifiers in free text and JSON."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.hashing import SubjectHasher
from compliance.mentions import Mentions

ANA = Mentions(["Ana", "ana@ours.example", "user-ana-1"])


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("Ana declined 2 of the last 3 meetings", True),
        ("3 emails to ANA unanswered", True),
        ("Diana declined", False),
        ("analysis of the quarter", False),
        ("diana@ours.example wrote", False),
        ("ana@ours.example.net wrote", False),
        ("mail ana@ours.example.", True),
        ("Ana's reply", True),
        ("Mary-Ana declined", False),
        ({"records": ["contact:user-ana-1"]}, True),
        ({"records": ["contact:user-ana-10"]}, False),
        ([{"system_user_id": "user-ana-1", "interactions": 4}], True),
        ({"ana@ours.example": 1}, True),
        (42, False),
        (None, False),
    ],
)
def test_found_in(value: Any, found: bool) -> None:
    assert ANA.found_in(value) is found


def test_replaced_swaps_every_match_and_leaves_the_rest() -> None:
    value = {"note": "Ana (ana@ours.example) met Diana", "count": 3}

    assert ANA.replaced(value, lambda match: "<x>") == {"note": "<x> (<x>) met Diana", "count": 3}


def test_no_terms_match_nothing() -> None:
    assert not Mentions(["", "  "]).found_in("anything")


def test_tokens_ignore_case_and_depend_on_the_salt() -> None:
    one, other = SubjectHasher(b"a" * 32), SubjectHasher(b"b" * 32)

    assert one.token(" Dana@Contoso.example ") == one.token("dana@contoso.example")
    assert one.token("dana@contoso.example") != other.token("dana@contoso.example")
    assert one.token("x").startswith("hmac-sha256:") and len(one.token("x")) == 12 + 64

"""Reading the `roles` claim of the app-only token, and refusing what is not a JWT."""

from __future__ import annotations

import base64
import json

import pytest

from consent.token_claims import TokenFormatError, granted_roles


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _token(payload: object, header: object = None) -> str:
    return ".".join((_segment(header or {"alg": "RS256", "typ": "JWT"}), _segment(payload), "c2ln"))


def test_roles_are_read_sorted_without_the_signature_being_checked() -> None:
    token = _token({"roles": ["User.Read.All", "Mail.ReadBasic.All", 7], "tid": "t"})
    assert granted_roles(token) == ["Mail.ReadBasic.All", "User.Read.All"]


def test_no_roles_claim_means_nothing_granted() -> None:
    assert granted_roles(_token({"tid": "t"})) == []


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("opaque-token-from-a-proxy", "not a JWT (expected three dot-separated parts)"),
        ("a.b.c.d", "not a JWT (expected three dot-separated parts)"),
        (_segment({"alg": "RS256"}) + ".%%%.c2ln", "the payload is not base64url JSON"),
        (_token([1, 2]), "the payload is not a JSON object"),
    ],
)
def test_what_is_not_a_jwt_is_refused_in_one_line(token: str, message: str) -> None:
    with pytest.raises(TokenFormatError) as refused:
        granted_roles(token)
    assert str(refused.value) == f"access token: {message}"

"""Reading the claims of our own app-only access token.

The token was just issued to us over TLS by the token service, so its
signature is not re-verified here: we only read which roles it carries.
"""

from __future__ import annotations

from typing import Any


class TokenFormatError(ValueError):
    """The access token is not a JWT (e.g. an opaque token from a proxy)."""


def token_claims(token: str) -> dict[str, Any]:
    if len(token.split(".")) != 3:
        raise TokenFormatError("access token: not a JWT (expected three dot-separated parts)")
    import jwt  # here: PyJWT loads cryptography (~8 MB), which a scoring run never needs

    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError as error:
        # PyJWT tells a payload that is JSON but not an object only by its message.
        if str(error) == "Invalid payload string: must be a json object":
            raise TokenFormatError("access token: the payload is not a JSON object") from None
        raise TokenFormatError("access token: the payload is not base64url JSON") from None
    return claims


def granted_roles(token: str) -> list[str]:
    """Application permissions in the `roles` claim; none granted means no claim at all."""
    roles = token_claims(token).get("roles", [])
    return sorted(role for role in roles if isinstance(role, str))

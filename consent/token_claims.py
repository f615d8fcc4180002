"""Reading the claims of our own app-only access token.

The token was just issued to us over TLS by the token service, so its
signature is not re-verified here: we only read which roles it carries.
"""

from __future__ import annotations

import base64
import json
from typing import Any


class TokenFormatError(ValueError):
    """The access token is not a JWT (e.g. an opaque token from a proxy)."""


def token_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenFormatError("access token: not a JWT (expected three dot-separated parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError):
        raise TokenFormatError("access token: the payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise TokenFormatError("access token: the payload is not a JSON object")
    return claims


def granted_roles(token: str) -> list[str]:
    """Application permissions in the `roles` claim; none granted means no claim at all."""
    roles = token_claims(token).get("roles", [])
    return sorted(role for role in roles if isinstance(role, str))

"""CSRF protection for every form that changes something: the synchronizer token.

Each session holds a random token (in the signed session cookie, so a page from another
site can neither read nor forge it); every POST form carries it in a hidden field
`csrf_token` and `require_csrf` refuses a POST without the session's token (403). No
library: the signed session already exists, and this is the pattern OWASP recommends
first; the double-submit cookie libraries for Starlette add a second cookie for the
same check. SameSite=Lax on the cookie is a second line, not the defence.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request

FIELD = "csrf_token"
SESSION_KEY = "csrf"


def token_for(request: Request) -> str:
    """The session's token, made on first use (a form is about to be rendered)."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = new_token(request)
    return token


def new_token(request: Request) -> str:
    """A fresh token (at sign-in, so a token from before it is worth nothing)."""
    token = secrets.token_urlsafe(32)
    request.session[SESSION_KEY] = token
    return token


async def require_csrf(request: Request) -> None:
    """The dependency of every POST route: the form's token must be the session's."""
    expected = request.session.get(SESSION_KEY)
    form = await request.form()
    sent = form.get(FIELD)
    if (
        not isinstance(expected, str)
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise HTTPException(
            403, f"{FIELD}: missing or not this session's; reload the page and submit again"
        )

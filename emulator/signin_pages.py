"""The emulator's sign-in pages (HTML, no script): pick an account, a fault, a form post.

Stable for tests and browsers: the form `#sign-in-form`, the account list `#login`
(label "Account"), the button `#sign-in`; a form_post answer is the form `#form-post`
with the button `#continue` (script submits it at once, as Entra's page does); a fault
page carries the AADSTS line in `#fault`.
"""

from __future__ import annotations

from html import escape

from emulator.fixture import UserSpec
from emulator.signin import Answer, AuthorizeRequest

PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def _frame(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body><main>{body}</main></body></html>"
    )


def sign_in_page(request: AuthorizeRequest, users: list[UserSpec], action: str) -> str:
    hint = (request.login_hint or "").lower()
    options = []
    for user in users:
        upn = str(user.properties.get("userPrincipalName", user.id))
        name = str(user.properties.get("displayName") or upn)
        selected = " selected" if hint and hint in (upn.lower(), user.id.lower()) else ""
        options.append(
            f'<option value="{escape(upn)}"{selected}>{escape(name)} ({escape(upn)})</option>'
        )
    hidden = "".join(
        f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
        for key, value in request.parameters().items()
    )
    return _frame(
        "Sign in to your account",
        "<h1>Sign in</h1><p>Emulated Microsoft Entra ID: pick the account to sign in as.</p>"
        f'<form id="sign-in-form" method="post" action="{escape(action)}">{hidden}'
        '<label for="login">Account</label> '
        f'<select id="login" name="login">{"".join(options)}</select> '
        '<button id="sign-in" type="submit">Sign in</button></form>',
    )


def form_post_page(answer: Answer) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
        for key, value in answer.fields.items()
    )
    return _frame(
        "Working...",
        f'<form id="form-post" method="post" action="{escape(answer.redirect_uri)}">{hidden}'
        '<button id="continue" type="submit">Continue</button></form>'
        # As Entra's page: a browser running script posts at once; without, Continue.
        "<script>document.getElementById('form-post').submit()</script>",
    )


def fault_page(line: str) -> str:
    return _frame(
        "Sign in: error",
        "<h1>Sorry, but we're having trouble signing you in.</h1>"
        f'<p id="fault">{escape(line)}</p>',
    )

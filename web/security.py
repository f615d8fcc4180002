"""Security headers on every response, pages, JSON, CSV, static files and errors alike.

No page runs script, so the policy forbids it outright. Styles come from the app's
own stylesheet; 'unsafe-inline' for styles is there only because the pipeline
chart is matplotlib's inline SVG, which styles each shape with a style attribute
(no script can ride on that). Framing is refused everywhere (clickjacking). Served
over HTTPS, Strict-Transport-Security too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)
# Over HTTPS (directly, or behind a proxy that says so in X-Forwarded-Proto): browsers
# keep to HTTPS for a year, so the Secure session cookie is never offered over HTTP.
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Pure ASGI middleware: adds HEADERS to every HTTP response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        added = HEADERS + (HSTS,) if scope.get("scheme") == "https" else HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in added}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message["headers"] = [*kept, *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)

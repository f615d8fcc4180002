"""Sign-in with Microsoft Entra ID: OpenID Connect authorization-code flow with PKCE
through MSAL, and the signed session cookie that carries the viewer afterwards.

- `GET /signin?next=/path`: MSAL starts the flow (state, nonce, PKCE S256); the flow
  waits in a signed cookie of its own (10 minutes, only sent to /auth/callback) and the
  browser goes to the authorize endpoint.
- `POST /auth/callback`: Entra posts the answer (response_mode=form_post, as MSAL and
  RFC 9700 recommend: the code never sits in a URL, history or a Referer). That POST
  comes from Entra's site, so the flow cookie is SameSite=None (and Secure, HttpOnly),
  as ASP.NET Core's correlation cookie is; the session cookie stays SameSite=Lax.
  MSAL checks the state, redeems the code with the verifier and
  checks the nonce; the ID token's signature (the tenant's published keys), issuer,
  audience and lifetime are checked here with PyJWT, since MSAL no longer does. The
  user is matched to a system user by address (`preferred_username`, else `email`);
  the groups claim makes them a manager or an admin. The session then holds only the
  viewer, a CSRF token and when it ends.
- `POST /signout`: forgets the session.

"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import msal  # type: ignore[import-untyped]  # no stubs, no py.typed
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlmodel import Session

from storage import insights_read
from web.csrf import new_token, require_csrf
from web.identity import Viewer
from web.settings import WebSettings

log = logging.getLogger(__name__)

SESSION_USER = "viewer"
CALLBACK = "/auth/callback"
FLOW_COOKIE = "rapport_signin"
FLOW_LIFETIME = 600  # seconds between leaving for Entra and coming back
MICROSOFT_HOSTS = ("https://login.microsoftonline.com", "https://login.microsoftonline.us")
CLOCK_SKEW = 120


class SignInRequired(Exception):
    """No session, or an expired one: pages go to /signin, the API answers 401."""


class BearerRefused(Exception):
    """An API request's `Authorization: Bearer` token that is not a valid access token
    for this app (401 with `WWW-Authenticate: Bearer error="invalid_token"`)."""


class SignInFailed(Exception):
    """The sign-in could not finish; the message is safe to show (no token, no secret)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Groups:
    managers: str | None
    admins: str | None


class EntraSignIn:
    """The sign-in of one app registration; MSAL's client is made on first use, so the
    app starts even while the identity platform is out of reach."""

    def __init__(self, settings: WebSettings, *, clock: Callable[[], float] = time.time) -> None:
        assert settings.client_id and settings.client_secret and settings.redirect_uri
        self.client_id = settings.client_id
        self._secret = settings.client_secret
        self.authority = settings.authority
        self.redirect_uri = settings.redirect_uri
        self.groups = Groups(settings.managers_group, settings.admins_group)
        self.api_scope = settings.api_scope
        self.lifetime = settings.session_hours * 3600
        self.clock = clock
        self._discovery = settings.authority_host in MICROSOFT_HOSTS
        self._client: msal.ConfidentialClientApplication | None = None
        self._keys: dict[str, Any] = {}
        self._issuer: str | None = None
        self._lock = threading.Lock()
        assert settings.session_secret is not None
        self._flows = URLSafeTimedSerializer(
            settings.session_secret.get_secret_value(), salt="rapport.signin-flow"
        )

    # -- MSAL and the tenant's keys ---------------------------------------------------
    def client(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._client is None:
                self._client = msal.ConfidentialClientApplication(
                    self.client_id,
                    client_credential=self._secret.get_secret_value(),
                    authority=self.authority,
                    instance_discovery=self._discovery,
                    token_cache=msal.TokenCache(),  # nothing kept: one sign-in, then the cookie
                )
            return self._client

    def close(self) -> None:
        """Close MSAL's HTTP connections (a server's shutdown)."""
        with self._lock:
            if self._client is not None:
                self._client.http_client.close()
                self._client = None

    def _refresh_keys(self) -> None:
        metadata = self._get_json(f"{self.authority}/v2.0/.well-known/openid-configuration")
        found = jwt.PyJWKSet.from_dict(self._get_json(str(metadata["jwks_uri"])))
        self._issuer = str(metadata["issuer"])
        self._keys = {key.key_id: key for key in found.keys if key.key_id}

    def _unreachable(self, problem: Exception) -> SignInFailed:
        log.warning("web sign-in: %s unreachable: %s", self.authority, type(problem).__name__)
        return SignInFailed(
            f"Entra ID could not be reached at {self.authority} ({type(problem).__name__}); "
            "try again in a moment",
            502,
        )

    def _get_json(self, url: str) -> dict[str, Any]:
        """GET through MSAL's HTTP client (its TLS trust and proxies)."""
        try:
            answer = self.client().http_client.get(url)
        except OSError as problem:
            raise self._unreachable(problem) from None
        if answer.status_code != 200:
            raise SignInFailed(f"the tenant's keys could not be read ({answer.status_code})", 502)
        found: dict[str, Any] = json.loads(answer.text)
        return found

    def _published_key(self, token: str) -> jwt.PyJWK | None:
        """The tenant's key that signed `token` (by its `kid`), None if it publishes none;
        the keys and the issuer are read again on first use or after a key roll-over."""
        kid = str(jwt.get_unverified_header(token).get("kid") or "")
        if kid not in self._keys or self._issuer is None:
            self._refresh_keys()
        return self._keys.get(kid)

    def verified_claims(self, id_token: str) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience and times check out."""
        try:
            key = self._published_key(id_token)
            if key is None:
                raise SignInFailed("the ID token is signed with a key the tenant does not publish")
            claims = _decoded(id_token, key, self.client_id, self._issuer)
        except jwt.InvalidTokenError as problem:
            raise SignInFailed(f"the ID token was refused ({problem})") from None
        return claims

    # -- the JSON API's bearer tokens -----------------------------------------------------
    def api_audiences(self) -> list[str]:
        """What an access token for this app's API names as its audience: the client id
        (v2.0 tokens) or the Application ID URI, `api://{client id}` (v1.0 tokens)."""
        return [self.client_id, f"api://{self.client_id}"]

    def _issuers(self) -> list[str]:
        """The tenant's v2.0 issuer (its OpenID configuration) and the v1.0 one."""
        assert self._issuer is not None
        tenant = self._issuer.rstrip("/").split("/")[-2]
        return [self._issuer, f"https://sts.windows.net/{tenant}/"]

    def bearer_claims(self, token: str) -> dict[str, Any]:
        """An access token's claims once its signature (the tenant's published keys, as
        for ID tokens), issuer (this tenant), audience (this app's API) and times check
        out, and it was issued to a user (a delegated token: `scp`)."""
        try:
            key = self._published_key(token)
            if key is None:
                raise BearerRefused("signed with a key the tenant does not publish")
            claims = _decoded(token, key, self.api_audiences(), self._issuers())
        except jwt.InvalidTokenError as problem:
            raise BearerRefused(str(problem)) from None
        except SignInFailed as problem:  # the tenant's keys out of reach
            raise BearerRefused(str(problem)) from None
        if not claims.get("scp"):
            raise BearerRefused("not a user's token (no delegated scope)")
        if self.api_scope not in str(claims["scp"]).split():
            raise BearerRefused(f"the token's scopes do not include {self.api_scope!r}")
        return claims

    def bearer_viewer(self, request: Request, authorization: str) -> Viewer:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BearerRefused("expected Authorization: Bearer <access token>")
        claims = self.bearer_claims(token.strip())
        with Session(request.app.state.engine) as store:
            return self.viewer_for(store, claims)

    # -- the flow ----------------------------------------------------------------------
    def start(self, next_path: str) -> tuple[str, str]:
        """Begin a sign-in: the authorize endpoint's URL to send the browser to, and the
        signed flow cookie's value (the flow waits there, bound to this browser)."""
        try:
            flow = self.client().initiate_auth_code_flow(
                scopes=[], redirect_uri=self.redirect_uri, response_mode="form_post"
            )
        except (OSError, ValueError) as problem:  # requests' errors are OSErrors
            raise self._unreachable(problem) from None
        auth_uri = str(flow.pop("auth_uri"))  # not needed again; keeps the cookie small
        return auth_uri, self._flows.dumps({"flow": flow, "next": next_path})

    def finish(self, request: Request, answer: dict[str, str], store: Session) -> str:
        """Complete the sign-in from the answer Entra posted: the page to go to next."""
        try:
            held = self._flows.loads(request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_LIFETIME)
        except BadData:
            held = None
        if not isinstance(held, dict) or not isinstance(held.get("flow"), dict):
            raise SignInFailed("this sign-in has expired or was not started here; sign in again")
        flow, next_path = held["flow"], safe_next(held.get("next"))
        if "error" in answer:
            reason = answer.get("error_description", answer["error"]).splitlines()[0]
            raise SignInFailed(f"Entra ID refused the sign-in: {reason}", 401)
        try:
            result = self.client().acquire_token_by_auth_code_flow(flow, answer)
        except OSError as problem:
            raise self._unreachable(problem) from None
        except (ValueError, RuntimeError) as problem:  # state or nonce mismatch
            raise SignInFailed(f"the sign-in answer was refused ({problem})") from None
        if "error" in result or "id_token" not in result:
            reason = str(result.get("error_description") or result.get("error") or "no ID token")
            raise SignInFailed(f"Entra ID refused the sign-in: {reason.splitlines()[0]}", 401)
        claims = self.verified_claims(str(result["id_token"]))
        viewer = self.viewer_for(store, claims)
        request.session.clear()
        request.session[SESSION_USER] = {
            "id": viewer.system_user_id,
            "name": viewer.name,
            "manager": viewer.is_manager,
            "admin": viewer.is_admin,
            "address": viewer.address,
            "ends": self.clock() + self.lifetime,
        }
        new_token(request)
        return next_path

    def viewer_for(self, store: Session, claims: dict[str, Any]) -> Viewer:
        # preferred_username in v2.0 tokens, upn in v1.0 access tokens
        address = str(
            claims.get("preferred_username") or claims.get("upn") or claims.get("email") or ""
        )
        groups = claims.get("groups")
        if groups is None and "groups" in claims.get("_claim_names", {}):
            log.warning(
                "web sign-in: the ID token lists no groups (more than 200: overage); "
                "the user is signed in as a seller"
            )
        held = {str(group).lower() for group in groups or []}
        manager = self.groups.managers is not None and self.groups.managers in held
        admin = self.groups.admins is not None and self.groups.admins in held
        found = insights_read.find_user(session=store, user=address) if "@" in address else None
        if found is None and not (manager or admin):
            raise SignInFailed(
                f"no Rapport user has the address {address!r}; ask an admin to add it to the "
                "CRM's system users",
                403,
            )
        name = found[1] if found and found[1] else str(claims.get("name") or address)
        return Viewer(
            system_user_id=found[0] if found else None,
            name=name,
            is_manager=manager,
            is_admin=admin,
            address=address.lower() or None,
        )

    def viewer(self, request: Request) -> Viewer:
        """The resolver (web.identity): the JSON API's bearer token's user, else the
        session's viewer, or SignInRequired."""
        authorization = request.headers.get("authorization")
        if authorization is not None and request.url.path.startswith("/api/"):
            return self.bearer_viewer(request, authorization)
        held = request.session.get(SESSION_USER)
        if not isinstance(held, dict) or float(held.get("ends", 0)) <= self.clock():
            request.session.pop(SESSION_USER, None)
            raise SignInRequired()
        return Viewer(
            system_user_id=held.get("id"),
            name=str(held.get("name", "")),
            is_manager=bool(held.get("manager")),
            is_admin=bool(held.get("admin")),
            address=held.get("address"),
        )


def safe_next(raw: object) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not isinstance(raw, str) or not raw.startswith("/") or raw.startswith("//"):
        return "/portfolio"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or "\\" in raw:
        return "/portfolio"
    return raw


def sign_in_location(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/signin?next=" + quote(safe_next(target), safe="")


def router(sign_in: EntraSignIn) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/signin")
    def start(next: str = "/portfolio") -> RedirectResponse:  # noqa: A002
        auth_uri, flow = sign_in.start(safe_next(next))
        answer = RedirectResponse(auth_uri, status_code=303)
        # SameSite=None: Entra posts the answer back from its own site (form_post).
        answer.set_cookie(
            FLOW_COOKIE,
            flow,
            max_age=FLOW_LIFETIME,
            path=CALLBACK,
            secure=True,
            httponly=True,
            samesite="none",
        )
        return answer

    @routes.post(CALLBACK)
    async def callback(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        answer = {key: str(value) for key, value in (await request.form()).items()}
        next_path = await run_in_threadpool(_finish, request, answer)
        done = RedirectResponse(next_path, status_code=303)
        done.delete_cookie(FLOW_COOKIE, path=CALLBACK, secure=True, httponly=True, samesite="none")
        return done

    def _finish(request: Request, answer: dict[str, str]) -> str:
        from web.deps import open_session

        with open_session(request) as store:
            return sign_in.finish(request, answer, store)

    @routes.post("/signout", dependencies=[Depends(require_csrf)])
    def sign_out(request: Request) -> HTMLResponse:
        request.session.clear()
        return signed_out_page(request)

    return routes


def signed_out_page(request: Request) -> HTMLResponse:
    from web.templating import frame, templates

    return templates.TemplateResponse(request, "signed_out.html", frame(request, None))


def _decoded(
    token: str, key: jwt.PyJWK, audience: str | list[str], issuer: str | list[str] | None
) -> dict[str, Any]:
    """The claims once the RS256 signature, audience, issuer and times check out."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer,
        leeway=CLOCK_SKEW,
        options={"require": ["exp", "iat", "iss", "aud"]},
    )
    return claims

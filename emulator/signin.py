"""Entra ID sign-in: the authorize endpoint and ID tokens, so that a web app's OpenID
Connect sign-in (authorization-code flow with PKCE) can be tested end to end.

`GET /{tenant}/oauth2/v2.0/authorize` checks the request as the Microsoft identity
platform does: an unknown app or a redirect URI the app registration does not list is
shown on the service's own page (the browser is never sent to an unchecked address);
any other fault goes back to the redirect URI as `error` and `error_description`, with
the `state`. The emulator keeps no passwords: its sign-in page lists the tenant's users
and the one picked (POSTed back to the same URL as `login`, a UPN or an object id;
`login_hint` preselects it) is signed in. The code then comes back by `response_mode`
(`query`, the default, `fragment` or `form_post`) and the token endpoint redeems it
once, within 10 minutes, for the same app and redirect URI, with the PKCE verifier
(S256 or plain) when a challenge was sent: an ID token (RS256, the key the JWKS
publishes) and a delegated Graph access token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from emulator import errors
from emulator.errors import TokenError
from emulator.fixture import AppRegistration, Fixture, UserSpec
from emulator.tokens import GRAPH_APP_ID, TokenService

CODE_LIFETIME = 600  # seconds: Entra's codes live about ten minutes
RESPONSE_MODES = ("query", "fragment", "form_post")
CHALLENGE_METHODS = ("S256", "plain")
GROUPS_OVERAGE = 200  # more groups than this: the claim points at Graph instead (JWT limit)
DELEGATED_SCOPES = "email openid profile User.Read"


class PageError(Exception):
    """A fault shown on the emulator's own sign-in page (never sent to a redirect URI)."""

    def __init__(self, aadsts: int, message: str) -> None:
        super().__init__(f"AADSTS{aadsts}: {message}")
        self.status = 400


class RedirectError(Exception):
    """A fault sent back to the (checked) redirect URI as error and error_description."""

    def __init__(self, request: AuthorizeRequest, error: str, aadsts: int, message: str) -> None:
        super().__init__(f"AADSTS{aadsts}: {message}")
        self.request = request
        self.error = error


@dataclass(frozen=True)
class AuthorizeRequest:
    tenant: str
    client_id: str
    redirect_uri: str
    response_type: str
    response_mode: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    login_hint: str | None
    prompt: str | None

    def parameters(self) -> dict[str, str]:
        """The request as the query parameters it came with (the sign-in form repeats them)."""
        raw = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": self.response_type,
            "response_mode": self.response_mode,
            "scope": " ".join(self.scopes),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
            "login_hint": self.login_hint,
        }
        return {key: value for key, value in raw.items() if value is not None}


@dataclass
class IssuedCode:
    request: AuthorizeRequest
    user: UserSpec
    issued_at: float
    redeemed: bool = False


@dataclass(frozen=True)
class Answer:
    """Where the browser goes next: a redirect (query, fragment) or a page to post (form_post)."""

    redirect_uri: str
    mode: str
    fields: dict[str, str]

    def location(self) -> str:
        separator = "#" if self.mode == "fragment" else ("&" if "?" in self.redirect_uri else "?")
        return f"{self.redirect_uri}{separator}{urlencode(self.fields)}"


class SignInService:
    """The authorize endpoint's state: the codes issued, and who may sign in."""

    def __init__(
        self,
        tokens: TokenService,
        fixture: Fixture,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self.fixture = fixture
        self.clock = clock
        self._codes: dict[str, IssuedCode] = {}
        tokens.sign_in = self

    # -- the authorize endpoint --------------------------------------------------------
    def check(self, segment: str, params: Mapping[str, str]) -> AuthorizeRequest:
        """The request, checked in Entra's order; PageError or RedirectError otherwise."""
        if not self.tokens.knows_tenant(segment):
            raise PageError(90002, errors.unknown_tenant(segment).description)
        client_id = params.get("client_id") or ""
        if not client_id:
            raise PageError(
                900144, "The request body must contain the following parameter: 'client_id'."
            )
        app = self.tokens.apps.get(client_id)
        if app is None:
            raise PageError(
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.fixture.tenant.display_name}'.",
            )
        redirect_uri = _checked_redirect(app, params.get("redirect_uri"))
        request = AuthorizeRequest(
            tenant=segment,
            client_id=client_id,
            redirect_uri=redirect_uri,
            response_type=params.get("response_type", ""),
            response_mode=params.get("response_mode") or "query",
            scopes=tuple((params.get("scope") or "").split()),
            state=params.get("state"),
            nonce=params.get("nonce"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            login_hint=params.get("login_hint"),
            prompt=params.get("prompt"),
        )
        if request.response_mode not in RESPONSE_MODES:
            request = _with_mode(request, "query")
            raise RedirectError(
                request,
                "invalid_request",
                9002313,
                "Invalid request. 'response_mode' must be one of query, fragment, form_post.",
            )
        if not request.response_type:
            raise RedirectError(
                request,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'response_type'.",
            )
        if request.response_type != "code":
            raise RedirectError(
                request,
                "unsupported_response_type",
                700054,
                f"response_type '{request.response_type}' is not enabled for the application.",
            )
        if not request.scopes:
            raise RedirectError(
                request,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        _check_challenge(request)
        if request.prompt == "none":  # the emulator keeps no browser session
            raise RedirectError(
                request,
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            )
        return request

    def users(self) -> list[UserSpec]:
        """The users the sign-in page offers: the tenant's enabled accounts."""
        return [u for u in self.fixture.users if u.properties.get("accountEnabled", True)]

    def grant(self, request: AuthorizeRequest, login: str) -> Answer:
        """Sign `login` in for `request`: the code (and state) for the redirect URI."""
        user = self._user(login)
        if user is None:
            raise PageError(
                50034,
                f"The user account {login or '(none)'} does not exist in the "
                f"{self.fixture.tenant.display_name} directory. To sign into this application, "
                "the account must be added to the directory.",
            )
        if not user.properties.get("accountEnabled", True):
            raise PageError(50057, "The user account is disabled.")
        code = "1.A" + secrets.token_urlsafe(48)
        self._codes[code] = IssuedCode(request, user, self.clock())
        fields = {"code": code}
        if request.state is not None:
            fields["state"] = request.state
        fields["session_state"] = str(uuid.uuid4())
        return Answer(request.redirect_uri, request.response_mode, fields)

    def refusal(self, error: RedirectError) -> Answer:
        fields = {
            "error": error.error,
            "error_description": f"{error}\r\nTrace ID: {uuid.uuid4()}\r\n"
            f"Correlation ID: {uuid.uuid4()}\r\nTimestamp: {errors.utc_now_iso()}Z",
        }
        if error.request.state is not None:
            fields["state"] = error.request.state
        return Answer(error.request.redirect_uri, error.request.response_mode, fields)

    def _user(self, login: str) -> UserSpec | None:
        wanted = login.strip().lower()
        for user in self.fixture.users:
            names = {
                user.id.lower(),
                str(user.properties.get("userPrincipalName", "")).lower(),
                str(user.properties.get("mail") or "").lower(),
            }
            if wanted and wanted in names:
                return user
        return None

    # -- the token endpoint's authorization_code grant -----------------------------------
    def redeem(
        self, app: AppRegistration, auth_method: str, form: Mapping[str, str], token_url: str
    ) -> dict[str, Any]:
        """Tokens for an authorization code; TokenError as Entra's otherwise."""
        code = form.get("code") or _invalid_request("code")
        issued = self._codes.get(code)
        if issued is None or issued.request.client_id != app.client_id:
            raise TokenError(
                400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if issued.redeemed:
            raise TokenError(
                400,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                "code or use an existing refresh token.",
            )
        if self.clock() - issued.issued_at > CODE_LIFETIME:
            raise TokenError(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to "
                "inactivity. Send a new interactive authorization request for this user and "
                "resource.",
            )
        if form.get("redirect_uri") != issued.request.redirect_uri:
            raise TokenError(
                400,
                "invalid_grant",
                50148,
                "The redirect_uri specified in the token request does not match the "
                "redirect_uri used in the authorization request.",
            )
        _check_verifier(issued.request, form.get("code_verifier"))
        issued.redeemed = True
        own = own_api_scopes(app, issued.request.scopes)
        issuer_base = token_url.split("/oauth2/")[0].rsplit("/", 1)[0]
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(own) if own else DELEGATED_SCOPES,
            "expires_in": self.tokens.lifetime,
            "ext_expires_in": self.tokens.lifetime,
            "access_token": self._access_token(app, auth_method, issued.user, own),
            "client_info": _b64(
                {"uid": issued.user.id, "utid": self.fixture.tenant.id},
            ),
        }
        if "openid" in issued.request.scopes:
            body["id_token"] = self.id_token(app, issued, issuer_base)
        return body

    def id_token(self, app: AppRegistration, issued: IssuedCode, base_url: str) -> str:
        """The v2.0 ID token: iss, aud, nonce, oid, sub, tid, preferred_username, name and,
        when the app registration asks for them, the user's groups (transitively)."""
        now = int(self.clock())
        user, tenant_id = issued.user, self.fixture.tenant.id
        claims: dict[str, Any] = {
            "aud": app.client_id,
            "iss": f"{base_url}/{tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + self.tokens.lifetime,
            "name": user.properties.get("displayName"),
            "oid": user.id,
            "preferred_username": user.properties.get("userPrincipalName"),
            "rh": "0.A" + secrets.token_urlsafe(16),
            "sub": _pairwise_subject(user.id, app.client_id),
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
        }
        if issued.request.nonce is not None:
            claims["nonce"] = issued.request.nonce
        if "email" in issued.request.scopes and user.properties.get("mail"):
            claims["email"] = user.properties["mail"]
        if app.group_membership_claims != "None":
            groups = self.groups_of(user)
            if len(groups) > GROUPS_OVERAGE:
                claims["_claim_names"] = {"groups": "src1"}
                claims["_claim_sources"] = {
                    "src1": {
                        "endpoint": f"https://graph.microsoft.com/v1.0/users/{user.id}/"
                        "getMemberObjects"
                    }
                }
            else:
                claims["groups"] = groups
        return self.tokens.sign(claims)

    def groups_of(self, user: UserSpec) -> list[str]:
        """The ids of the groups `user` is in, directly or through nested groups."""
        names = {user.id.lower(), str(user.properties.get("userPrincipalName", "")).lower()}
        found: list[str] = []
        grew = True
        while grew:
            grew = False
            held = names | {group.lower() for group in found}
            for group in self.fixture.groups:
                if group.id not in found and any(m.lower() in held for m in group.members):
                    found.append(group.id)
                    grew = True
        return found

    def _access_token(
        self, app: AppRegistration, auth_method: str, user: UserSpec, own: tuple[str, ...] = ()
    ) -> str:
        """A v1.0 delegated access token: for Graph (User.Read and the OpenID scopes), or,
        when the app asked for scopes of its own API (`api://{client id}/name`), for that
        API: `aud` its Application ID URI, `scp` the scope names, and the user's groups
        as the ID token has them (Entra puts the groups claim in access tokens too)."""
        now = int(self.clock())
        tenant_id = self.fixture.tenant.id
        api = f"api://{app.client_id}"
        claims: dict[str, Any] = {
            "aud": api if own else GRAPH_APP_ID,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.tokens.lifetime,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": auth_method,
            "idtyp": "user",
            "name": user.properties.get("displayName"),
            "oid": user.id,
            "scp": " ".join(scope.rsplit("/", 1)[1] for scope in own) if own else DELEGATED_SCOPES,
            "sub": _pairwise_subject(user.id, api if own else GRAPH_APP_ID),
            "tid": tenant_id,
            "upn": user.properties.get("userPrincipalName"),
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        if own and app.group_membership_claims != "None":
            groups = self.groups_of(user)
            if len(groups) <= GROUPS_OVERAGE:
                claims["groups"] = groups
        return self.tokens.sign(claims)


def own_api_scopes(app: AppRegistration, scopes: tuple[str, ...]) -> tuple[str, ...]:
    """The requested scopes of the app's own API (`api://{client id}/name`, or the client
    id itself as the prefix, as Entra accepts both), as `api://{client id}/name`."""
    found = []
    for scope in scopes:
        for prefix in (f"api://{app.client_id}/", f"{app.client_id}/"):
            if scope.lower().startswith(prefix.lower()) and len(scope) > len(prefix):
                found.append(f"api://{app.client_id}/{scope[len(prefix) :]}")
    return tuple(found)


def _with_mode(request: AuthorizeRequest, mode: str) -> AuthorizeRequest:
    return AuthorizeRequest(**{**request.__dict__, "response_mode": mode})


def _checked_redirect(app: AppRegistration, uri: str | None) -> str:
    """The redirect URI if the app registration lists it (exact match; for http loopback
    URIs the port is ignored, as Entra does); PageError AADSTS50011 otherwise."""
    if not uri:
        if len(app.redirect_uris) == 1:
            return app.redirect_uris[0]
        raise PageError(500113, "No reply address is registered for the application.")
    for registered in app.redirect_uris:
        if uri == registered or _same_loopback(uri, registered):
            return uri
    raise PageError(
        50011,
        f"The redirect URI '{uri}' specified in the request does not match the redirect URIs "
        f"configured for the application '{app.client_id}'. Make sure the redirect URI sent "
        "in the request matches one added to your application in the Azure portal.",
    )


def _same_loopback(uri: str, registered: str) -> bool:
    sent, known = urlsplit(uri), urlsplit(registered)
    loopback = ("localhost", "127.0.0.1")
    return (
        sent.scheme == known.scheme == "http"
        and sent.hostname == known.hostname
        and sent.hostname in loopback
        and (sent.path or "/") == (known.path or "/")
        and sent.query == known.query
    )


def _check_challenge(request: AuthorizeRequest) -> None:
    method, challenge = request.code_challenge_method, request.code_challenge
    if challenge is None:
        if method is not None:
            raise RedirectError(
                request,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'code_challenge'.",
            )
        return
    if (method or "plain") not in CHALLENGE_METHODS:
        raise RedirectError(
            request,
            "invalid_request",
            9002313,
            f"Invalid request. code_challenge_method '{method}' is not supported; "
            "expected S256 or plain.",
        )
    if not 43 <= len(challenge) <= 128:
        raise RedirectError(
            request, "invalid_request", 501491, "Invalid size of Code_Challenge parameter."
        )


def _check_verifier(request: AuthorizeRequest, verifier: str | None) -> None:
    if request.code_challenge is None:
        return
    if not verifier:
        raise TokenError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'code_verifier'.",
        )
    if (request.code_challenge_method or "plain") == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        expected = verifier
    if not secrets.compare_digest(expected, request.code_challenge):
        raise TokenError(
            400,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization "
            "request.",
        )


def _invalid_request(parameter: str) -> str:
    raise TokenError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


def _pairwise_subject(user_id: str, client_id: str) -> str:
    digest = hashlib.sha256(f"{user_id}\x1f{client_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _b64(value: Mapping[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(dict(value)).encode()).decode().rstrip("=")

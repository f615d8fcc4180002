"""The Entra ID side: OpenID metadata, client-credentials grant, Graph bearer checks.

Tokens are signed and verified with PyJWT. Time claims are checked here rather than by
PyJWT, against the service's own clock, so that tests can move that clock.
"""

from __future__ import annotations

import base64
import functools
import time
import uuid
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_decode

from emulator import errors
from emulator.certs import sha1_thumbprint_hex
from emulator.errors import GraphError, TokenError
from emulator.fixture import AppRegistration, Tenant

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300
# azure-identity's async credentials sign their assertions PS256 (PSS salt = digest length,
# as PyJWT verifies it), msal (behind the sync ones) PS256 through PyJWT, ADFS-style RS256.
ASSERTION_ALGORITHMS = ["RS256", "PS256"]
ACCESS_TOKEN_ALGORITHMS = ["RS256"]


@dataclass(frozen=True)
class AccessClaims:
    app_id: str
    roles: frozenset[str]
    expires: int
    audience: str = GRAPH_AUDIENCE  # Graph, or an extra resource such as a loopback Dataverse


class CodeRedeemer(Protocol):
    def redeem(
        self, app: AppRegistration, auth_method: str, form: Mapping[str, str], token_url: str
    ) -> dict[str, Any]: ...


def _missing(parameter: str) -> TokenError:
    return TokenError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


class TokenService:
    def __init__(
        self,
        tenant: Tenant,
        apps: Mapping[str, AppRegistration],
        *,
        lifetime: int = 3599,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenant = tenant
        self.apps = apps
        self.lifetime = lifetime
        self.clock = clock
        self._key = _signing_key()
        self._kid = uuid.uuid4().hex
        self._verified: dict[str, AccessClaims] = {}
        # Resources besides Graph that tokens are issued for (scope `{resource}/.default`,
        # `aud` = the resource), e.g. a loopback Dataverse environment URL.
        self.extra_audiences: set[str] = set()
        # The authorize endpoint's side (emulator/signin.py): redeems authorization codes.
        self.sign_in: CodeRedeemer | None = None

    def knows_tenant(self, segment: str) -> bool:
        lowered = segment.lower()
        return lowered == self.tenant.id.lower() or lowered in {
            d.lower() for d in self.tenant.verified_domains
        }

    def openid_configuration(self, segment: str, base_url: str) -> dict[str, Any]:
        if not self.knows_tenant(segment):
            raise errors.unknown_tenant(segment)
        tid = self.tenant.id
        return {
            "token_endpoint": f"{base_url}/{tid}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base_url}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base_url}/{tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base_url}/{tid}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base_url}/{tid}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base_url}/{tid}/oauth2/v2.0/logout",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {
            "keys": [
                {"kty": "RSA", "use": "sig", "kid": self._kid, "n": public["n"], "e": public["e"]}
            ]
        }

    def issue(self, segment: str, form: Mapping[str, str], token_url: str) -> dict[str, Any]:
        """Handle a token request (client credentials, or an authorization code redeemed
        for the sign-in service); raises TokenError as Entra would."""
        if not self.knows_tenant(segment):
            raise errors.unknown_tenant(segment)
        grant = form.get("grant_type")
        if grant == "authorization_code" and self.sign_in is not None:
            app, method = self.authenticate_client(form, segment)
            return self.sign_in.redeem(app, method, form, token_url)
        if grant != "client_credentials":
            raise TokenError(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        form.get("client_id") or _raise(_missing("client_id"))
        audience = _check_scope(form.get("scope"), self.extra_audiences)
        app, method = self.authenticate_client(form, segment)
        return {
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": self._access_token(app, method, audience),
        }

    def authenticate_client(
        self, form: Mapping[str, str], segment: str
    ) -> tuple[AppRegistration, str]:
        """The app a token request authenticates as (secret or certificate assertion), and
        how (`appidacr`: "1" secret, "2" certificate); TokenError as Entra's otherwise."""
        client_id = form.get("client_id") or _raise(_missing("client_id"))
        app = self.apps.get(client_id)
        if app is None:
            raise errors.unknown_client(client_id, self.tenant.id)
        if "client_secret" in form:
            if form["client_secret"] not in app.secrets:
                raise errors.bad_secret(client_id)
            method = "1"
        elif "client_assertion" in form:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise _missing("client_assertion_type")
            self._check_assertion(app, form["client_assertion"], segment)
            method = "2"
        else:
            raise TokenError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        return app, method

    def sign(self, claims: Mapping[str, Any]) -> str:
        """`claims` as a JWT signed RS256 with the key the JWKS publishes."""
        return jwt.encode(dict(claims), self._key, algorithm="RS256", headers={"kid": self._kid})

    def _access_token(self, app: AppRegistration, auth_method: str, audience: str) -> str:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{self.tenant.id}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": auth_method,
            "idp": f"https://sts.windows.net/{self.tenant.id}/",
            "idtyp": "app",
            "oid": app.service_principal_id,
            "sub": app.service_principal_id,
            "tid": self.tenant.id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0",
        }
        if app.roles:  # Entra omits the claim entirely when nothing is granted
            claims["roles"] = sorted(app.roles)
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"kid": self._kid, "x5t": self._kid}
        )

    def _check_assertion(self, app: AppRegistration, assertion: str, segment: str) -> None:
        try:
            header, claims = _unverified(assertion)
        except jwt.DecodeError as exc:
            raise TokenError(
                400, "invalid_request", 50027, "JWT token is invalid or malformed."
            ) from exc
        certificate = _matching_certificate(app, header)
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey) or not _signature_valid(
            assertion, public_key, ASSERTION_ALGORITHMS
        ):
            raise errors.bad_assertion("Client assertion contains an invalid signature.")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise TokenError(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )
        audience = str(claims.get("aud", ""))
        if not audience.endswith("/oauth2/v2.0/token") or not self.knows_tenant(
            audience.rsplit("/", 4)[-4]
        ):
            raise errors.bad_assertion(
                "Client assertion audience claim does not match Realm issuer."
            )
        now = self.clock()
        if (
            float(claims.get("exp", 0)) < now - CLOCK_SKEW
            or float(claims.get("nbf", 0)) > now + CLOCK_SKEW
        ):
            raise TokenError(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            )

    def verify_bearer(
        self, authorization: str | None, audiences: AbstractSet[str] | None = None
    ) -> AccessClaims:
        """Claims of a valid bearer token for `audiences` (default: Graph's)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise _unauthenticated("Access token is empty.")
        token = authorization[7:].strip()
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[token] = claims
        if claims.expires < self.clock():
            raise _unauthenticated("Lifetime validation failed, the token is expired.")
        if claims.audience not in (audiences or {GRAPH_AUDIENCE}):
            raise _unauthenticated("Access token validation failure. Invalid audience.")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            _, claims = _unverified(token)
        except jwt.DecodeError as exc:
            raise _unauthenticated("IDX14100: JWT is not well formed.") from exc
        if not _signature_valid(token, self._key.public_key(), ACCESS_TOKEN_ALGORITHMS):
            raise _unauthenticated("Access token validation failure. Invalid signature.")
        audience = str(claims.get("aud"))
        if audience in (GRAPH_AUDIENCE + "/", GRAPH_APP_ID):
            audience = GRAPH_AUDIENCE
        if audience != GRAPH_AUDIENCE and audience not in self.extra_audiences:
            raise _unauthenticated("Access token validation failure. Invalid audience.")
        if claims.get("tid") != self.tenant.id:
            raise _unauthenticated("Access token validation failure. Invalid issuer.")
        return AccessClaims(
            app_id=str(claims.get("appid")),
            roles=frozenset(str(r) for r in claims.get("roles", [])),
            expires=int(claims.get("exp", 0)),
            audience=audience,
        )


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims, signature unchecked; jwt.DecodeError if it is not a JWT."""
    decoded = jwt.decode_complete(token, options={"verify_signature": False})
    return decoded["header"], decoded["payload"]


def _signature_valid(token: str, key: rsa.RSAPublicKey, algorithms: list[str]) -> bool:
    """Whether `key` signed `token` with one of `algorithms` (only the signature: claims,
    times included, are checked by the caller)."""
    try:
        jwt.PyJWS().decode(token, key, algorithms=algorithms)
    except jwt.InvalidTokenError:
        return False
    return True


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    # One key per process: RSA generation costs ~100 ms and tests start many emulators.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _raise(error: TokenError) -> str:
    raise error


def _check_scope(scope: str | None, extra_audiences: set[str]) -> str:
    """The resource (token audience) that `scope` names; TokenError as Entra's."""
    if not scope:
        raise _missing("scope")
    if not scope.endswith("/.default"):
        raise TokenError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must "
            "have a scope value with /.default suffixed to the resource identifier "
            "(application ID URI).",
        )
    resource = scope[: -len("/.default")].rstrip("/")
    if resource in extra_audiences:
        return resource
    if resource not in (GRAPH_AUDIENCE, GRAPH_APP_ID):
        raise TokenError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant.",
        )
    return GRAPH_AUDIENCE


def _matching_certificate(app: AppRegistration, header: Mapping[str, Any]) -> x509.Certificate:
    sent_chain = (
        [
            # x5c holds standard base64 DER (RFC 7515 section 4.1.6), not base64url.
            x509.load_der_x509_certificate(base64.b64decode(c))
            for c in header.get("x5c", [])
        ]
        if isinstance(header.get("x5c"), list)
        else []
    )
    presented = _presented_thumbprint(header)
    for registered in app.certificates:
        candidates = list(sent_chain)
        if registered.certificate_pem:
            candidates.insert(
                0, x509.load_pem_x509_certificate(registered.certificate_pem.encode())
            )
        for cert in candidates:
            if sha1_thumbprint_hex(cert) != registered.thumbprint:
                continue
            if presented in (
                sha1_thumbprint_hex(cert),
                cert.fingerprint(hashes.SHA256()).hex().upper(),
            ):
                return cert
    raise errors.bad_assertion(
        "The certificate with identifier used to sign the client assertion is not registered "
        f"on application. [Reason - The key was not found., Thumbprint of key used by client: "
        f"'{presented}']"
    )


def _presented_thumbprint(header: Mapping[str, Any]) -> str:
    for name in ("x5t#S256", "x5t"):
        value = header.get(name)
        if isinstance(value, str):
            # azure-identity pads its thumbprints with '=', msal does not: both decode.
            return base64url_decode(value).hex().upper()
    return ""


def _unauthenticated(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        {
            "WWW-Authenticate": (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                f'oauth2/authorize", client_id="{GRAPH_APP_ID}"'
            )
        },
    )

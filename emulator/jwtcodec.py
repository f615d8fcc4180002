"""Compact JWS encoding and verification (RS256 / PS256) on top of `cryptography`.

The emulator signs its access tokens and verifies client assertions itself
rather than depending on PyJWT, which is only present as a transitive
dependency of msal.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class JwtFormatError(ValueError):
    """The token is not a well-formed compact JWS."""


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    # azure-identity pads its assertion segments with '=', msal does not: accept both.
    stripped = text.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def encode_rs256(claims: dict[str, Any], key: rsa.RSAPrivateKey, headers: dict[str, Any]) -> str:
    header = {"typ": "JWT", "alg": "RS256", **headers}
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url_encode(signature)


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Return (header, claims, signing_input, signature) without verifying anything."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtFormatError("a JWS has three dot-separated segments")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtFormatError("undecodable JWS segment") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtFormatError("JWS header and payload must be JSON objects")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    return header, claims, signing_input, signature


def signature_valid(
    alg: str, public_key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes
) -> bool:
    pad: padding.AsymmetricPadding
    if alg == "RS256":
        pad = padding.PKCS1v15()
    elif alg == "PS256":
        # Both PSS salt conventions occur in the wild (digest length and maximum).
        for salt in (32, padding.PSS.AUTO):
            try:
                public_key.verify(
                    signature,
                    signing_input,
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                    hashes.SHA256(),
                )
                return True
            except InvalidSignature:
                continue
        return False
    else:
        return False
    try:
        public_key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature:
        return False
    return True

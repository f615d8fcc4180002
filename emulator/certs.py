"""TLS material for the token service and certificates for app registrations.

azure-identity refuses a non-https authority, so the token service needs a
certificate that clients can trust: a throw-away trustme CA is generated per
emulator start and its PEM written to a file the caller points
SSL_CERT_FILE / REQUESTS_CA_BUNDLE at.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsMaterial:
    ca_pem_path: Path
    server_context: ssl.SSLContext


def create_tls_material(directory: Path) -> TlsMaterial:
    """Generate a CA and a 127.0.0.1 server certificate; write the CA PEM into `directory`."""
    ca, leaf = _authority()
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "emulator-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return TlsMaterial(ca_pem_path=ca_path, server_context=context)


@functools.cache
def _authority() -> tuple[trustme.CA, trustme.LeafCert]:
    # One CA per process: key generation dominates emulator start-up and tests start many.
    ca = trustme.CA()
    return ca, ca.issue_cert("127.0.0.1", "localhost")


def sha1_thumbprint_hex(certificate: x509.Certificate) -> str:
    """Thumbprint as the Entra portal shows it: upper-case hex SHA-1 of the DER."""
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - protocol-mandated


def thumbprint_b64url(certificate: x509.Certificate, algorithm: str) -> str:
    digest = hashes.SHA1() if algorithm == "sha1" else hashes.SHA256()
    raw = certificate.fingerprint(digest)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AppCertificate:
    """A self-signed client certificate for an app registration."""

    certificate_pem: bytes
    private_key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    @property
    def thumbprint(self) -> str:
        return sha1_thumbprint_hex(self.certificate)

    @property
    def combined_pem(self) -> bytes:
        """Key and certificate in one PEM, as CertificateCredential(certificate_path=) reads."""
        return self.private_key_pem + self.certificate_pem


def create_app_certificate(common_name: str = "rapport-test-app") -> AppCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return AppCertificate(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )

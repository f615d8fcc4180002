"""App-only credentials for Microsoft Graph, through azure-identity.

One of: a client secret, a certificate (PEM or PFX), or workload identity
(Kubernetes federated token). Secret values live only inside the credential
objects: they are excluded from `repr` and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CredentialConfigError(ValueError):
    """The app registration is not configured well enough to ask for a token."""


@dataclass(frozen=True)
class GraphApp:
    tenant_id: str
    client_id: str
    authority_host: str
    secret: str | None = field(default=None, repr=False)
    certificate_path: Path | None = None
    certificate_password: str | None = field(default=None, repr=False)
    workload_identity: bool = False

    @property
    def credential_kind(self) -> str:
        if self.secret is not None:
            return "client secret"
        if self.certificate_path is not None:
            return "certificate"
        if self.workload_identity:
            return "workload identity"
        return "none"


def _common(app: GraphApp) -> dict[str, Any]:
    return {
        "tenant_id": app.tenant_id,
        "client_id": app.client_id,
        "authority": app.authority_host,
        # Instance discovery would call the public cloud: pointless for a
        # configured authority and impossible against a local emulator.
        "disable_instance_discovery": True,
    }


def build_async_credential(app: GraphApp) -> Any:
    """An `azure.identity.aio` credential; the caller closes it."""
    from azure.identity import aio

    if app.secret is not None:
        return aio.ClientSecretCredential(client_secret=app.secret, **_common(app))
    if app.certificate_path is not None:
        if not app.certificate_path.is_file():
            raise CredentialConfigError(
                f"RAPPORT_CLIENT_CERTIFICATE_PATH: {str(app.certificate_path)!r} is not a "
                "readable file; expected a PEM or PFX certificate with its private key"
            )
        return aio.CertificateCredential(
            certificate_path=str(app.certificate_path),
            password=app.certificate_password,
            **_common(app),
        )
    if app.workload_identity:
        common = _common(app)
        return aio.WorkloadIdentityCredential(
            tenant_id=common["tenant_id"],
            client_id=common["client_id"],
            authority=common["authority"],
        )
    raise CredentialConfigError(
        "no credential configured; set one of RAPPORT_CLIENT_SECRET, RAPPORT_CLIENT_SECRET_FILE, "
        "RAPPORT_CLIENT_CERTIFICATE_PATH or RAPPORT_USE_WORKLOAD_IDENTITY=true"
    )

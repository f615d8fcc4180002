"""The admin-consent URL an IT admin opens to grant Rapport's permissions."""

from __future__ import annotations

from urllib.parse import urlencode

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"


def admin_consent_url(
    *, authority_host: str, tenant_id: str, client_id: str, redirect_uri: str, state: str
) -> str:
    # The v2.0 endpoint with the .default scope grants exactly the application
    # permissions configured on the app registration, nothing more.
    query = urlencode(
        {
            "client_id": client_id,
            "scope": GRAPH_DEFAULT_SCOPE,
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{authority_host.rstrip('/')}/{tenant_id}/v2.0/adminconsent?{query}"

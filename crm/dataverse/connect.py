"""A Dataverse client for a configured environment, with an azure-identity credential.

The credential is the Graph app's (consent.credentials): the same app registration,
asked for the environment's `/.default` scope. Trust comes from the system store
(`ssl.create_default_context`, so SSL_CERT_FILE applies, as for azure-identity).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from consent.credentials import GraphApp, build_async_credential
from crm.dataverse.client import DataverseClient, TokenSource
from crm.dataverse.environment import Environment
from crm.dataverse.exceptions import TokenRefused
from crm.dataverse.retry import RetryPolicy


def token_source(credential: Any, scope: str) -> TokenSource:
    async def token() -> str:
        try:
            return str((await credential.get_token(scope)).token)
        except Exception as error:  # azure-identity raises several kinds; none is retried
            # Its message may name the authority; it never carries the secret.
            raise TokenRefused(
                f"no token for {scope}: {type(error).__name__}", status=401
            ) from None

    return token


@asynccontextmanager
async def connected(
    app: GraphApp, url: str, *, concurrency: int = 8, policy: RetryPolicy | None = None
) -> AsyncIterator[DataverseClient]:
    environment = Environment(url)
    credential = build_async_credential(app)
    try:
        client = DataverseClient(
            environment,
            token_source(credential, environment.scope),
            concurrency=concurrency,
            policy=policy,
            verify=ssl.create_default_context(),
        )
        async with client:
            yield client
    finally:
        await credential.close()

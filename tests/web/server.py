"""A real uvicorn server on a loopback port, in a thread, for the web app's tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    """A loopback port free right now (for a URL needed before the server starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(
    app: FastAPI,
    *,
    port: int = 0,
    tls: tuple[Path, Path] | None = None,
    verify: Any = True,
) -> Iterator[httpx.Client]:
    """Serve `app` on 127.0.0.1 (`port`, 0: a free one; over HTTPS with `tls`, the
    certificate and key PEM files) and yield a client with that base URL (`verify`: its
    TLS trust); the server stops when the block ends."""
    options: dict[str, Any] = {}
    if tls is not None:
        options = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])}
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if tls is not None else "http"
    try:
        with httpx.Client(
            base_url=f"{scheme}://127.0.0.1:{bound}", timeout=30, verify=verify
        ) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)

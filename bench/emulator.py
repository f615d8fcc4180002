"""How fast does the emulator serve message delta pages of 1,000?

Starts `python -m emulator.cli serve` in a child process (so client and server each get a
core), then drains the inbox and sent items of one synthetic mailbox with a plain httpx
client, `Prefer: odata.maxpagesize=1000` and Rapport's metadata `$select`.

    .venv/bin/python bench/emulator.py                 # 20,000 messages (CI size)
    .venv/bin/python bench/emulator.py --messages 200000
"""

from __future__ import annotations

import argparse
import json
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

SELECT = (
    "id,internetMessageId,conversationId,from,sender,toRecipients,ccRecipients,bccRecipients,"
    "sentDateTime,receivedDateTime,isDraft"
)


def start_server(fixture: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "serve", "--fixture", str(fixture)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, json.loads(server.stdout.readline())


def token(addresses: dict[str, Any], fixture: dict[str, Any]) -> str:
    app = fixture["apps"][0]
    context = ssl.create_default_context(cafile=addresses["caPem"])
    reply = httpx.post(
        f"{addresses['authority']}/{addresses['tenantId']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["clientId"],
            "client_secret": app["secrets"][0],
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=context,
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def drain(client: httpx.Client, url: str, params: dict[str, str] | None) -> tuple[int, int, int]:
    """Follow one delta round; return (messages, pages, bytes)."""
    messages = pages = size = 0
    next_url: str | None = url
    while next_url:
        reply = client.get(next_url, params=params)
        reply.raise_for_status()
        params = None
        body = reply.json()
        messages += len(body["value"])
        pages += 1
        size += len(reply.content)
        next_url = body.get("@odata.nextLink")
    return messages, pages, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000, help="messages in the mailbox")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Through the CLI, not an import: this file's own name shadows the emulator package.
        path = Path(tmp) / "tenant.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "emulator.cli",
                "generate",
                "--users",
                "3",
                "--seed",
                "1",
                "--messages-per-user",
                str(args.messages),
                "--events-per-user",
                "0",
                "--out",
                str(path),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        fixture = json.loads(path.read_text())
        server, addresses = start_server(path)
        try:
            run(addresses, fixture)
        finally:
            server.terminate()
            server.wait(timeout=10)


def run(addresses: dict[str, Any], fixture: dict[str, Any]) -> None:
    user = fixture["users"][0]["id"]
    headers = {
        "Authorization": f"Bearer {token(addresses, fixture)}",
        "Prefer": "odata.maxpagesize=1000",
    }
    with httpx.Client(base_url=addresses["graphUrl"], headers=headers, timeout=60) as client:
        total = pages = size = 0
        started = time.perf_counter()
        for folder in ("inbox", "sentitems"):
            url = f"{addresses['graphUrl']}/users/{user}/mailFolders/{folder}/messages/delta()"
            counted = drain(client, url, {"$select": SELECT})
            total, pages, size = total + counted[0], pages + counted[1], size + counted[2]
        elapsed = time.perf_counter() - started
        log = client.get(f"{addresses['adminUrl']}/stats", params={"log": "1"}).json()["log"]
    # Time inside the emulator's pipeline (auth, paging, rendering, encoding), excluding the
    # socket write and the client's JSON parsing: what the server itself can sustain.
    server_seconds = sum(e["duration_ms"] for e in log if e["path_kind"] == "messages") / 1000
    print(f"messages served     {total:,}")
    print(f"pages               {pages:,} (maxpagesize 1000)")
    print(f"bytes               {size / 1e6:,.1f} MB ({size / max(total, 1):,.0f} B/message)")
    print(f"elapsed             {elapsed:,.2f} s")
    print(f"throughput          {total / elapsed:,.0f} messages/s")
    print(f"page latency (mean) {elapsed / max(pages, 1) * 1000:,.1f} ms")
    print(f"server time         {server_seconds:,.2f} s ({total / server_seconds:,.0f} messages/s)")


if __name__ == "__main__":
    main()

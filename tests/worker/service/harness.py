"""Real processes for the service tests: the emulator (`rapport emulator serve`) and workers.

Every process started here is registered with a `Processes` owner, which
kills whatever is still running when the test (or module) ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from emulator.generator import generate_tenant

WORKER = [sys.executable, "-m", "worker.cli", "worker"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = []
        for line in self.lines():
            if line.startswith("{"):
                event = json.loads(line)
                if name in (None, event.get("event")):
                    found.append(event)
        return found

    def signal(self, number: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(number)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)


@dataclass
class Processes:
    directory: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log = self.directory / f"{name}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                argv, env=env, cwd=self.directory, stdout=sink, stderr=subprocess.STDOUT
            )
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGKILL)
                process.popen.wait(10)


def clean_environment(**rapport: str) -> dict[str, str]:
    """This process's environment without RAPPORT_* variables, plus `rapport` ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update({f"RAPPORT_{name.upper()}": value for name, value in rapport.items()})
    return env


@dataclass
class Emulator:
    process: Process
    addresses: dict[str, Any]
    fixture: dict[str, Any]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        reply = httpx.request(method, self.addresses["adminUrl"] + path, json=body, timeout=10)
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def request_log(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/stats?log=1")["log"])

    def worker_environment(self, database_url: str, **settings: str) -> dict[str, str]:
        app = self.fixture["apps"][0]
        env = clean_environment(
            database_url=database_url,
            tenant_id=self.addresses["tenantId"],
            client_id=app["clientId"],
            client_secret=app["secrets"][0],
            authority_host=self.addresses["authority"],
            graph_base_url=self.addresses["graphUrl"],
            tenant_data_location="EUR",
            retry_max_wait_seconds="0.05",
            log_format="json",
            **settings,
        )
        env["SSL_CERT_FILE"] = env["REQUESTS_CA_BUNDLE"] = self.addresses["caPem"]
        return env


def start_emulator(processes: Processes, fixture_path: Path) -> Emulator:
    argv = [
        sys.executable,
        "-m",
        "emulator.cli",
        "serve",
        "--fixture",
        str(fixture_path),
        "--workdir",
        str(processes.directory),
    ]
    process = processes.start("emulator", argv, clean_environment())

    def addresses() -> dict[str, Any] | None:
        lines = [line for line in process.lines() if line.startswith('{"authority"')]
        return json.loads(lines[0]) if lines else None

    found = wait_until(addresses, 30, "the emulator to print its addresses")
    return Emulator(process, found, json.loads(fixture_path.read_text()))


def generated_tenant(
    directory: Path, *, users: int, messages_per_user: int, seed: int = 3
) -> tuple[Path, dict[str, Any]]:
    """A synthetic tenant whose mail is recent and whose mailboxes may all be read."""
    fixture, crm = generate_tenant(
        users=users, messages_per_user=messages_per_user, seed=seed, events_per_user=4
    )
    for user in fixture["users"]:
        user["preferredDataLocation"] = None  # the tenant's EUR: every mailbox eligible
    fixture["generated"].update(end=datetime.now(UTC).date().isoformat(), days=30)
    path = directory / "tenant.json"
    path.write_text(json.dumps(fixture), encoding="utf-8")
    return path, crm


def http_get(port: int, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)

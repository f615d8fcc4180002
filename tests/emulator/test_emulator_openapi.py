"""Every endpoint's JSON validates against the same operation in Microsoft's OpenAPI, whose
copies the checkout carries: nothing the suite reads lies outside it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_openapi import OPENAPI_DIR, assert_valid, document  # type: ignore[import-not-found]

from emulator.app import Emulator
from emulator.testing import CLIENT_ID, fetch_token

ADELE = "adele@contoso.com"
MAIL = "Mail.yml"
FUNCTIONS = "Users.Functions.yml"
WINDOW = {"startDateTime": "2024-05-01T00:00:00Z", "endDateTime": "2024-06-01T00:00:00Z"}
PREFER = {"Prefer": "odata.maxpagesize=5"}


async def test_users(graph: httpx.AsyncClient) -> None:
    listed = (await graph.get("/users", params={"$top": "1"})).json()
    assert_valid(listed, "Users.yml", "/users")
    selected = (
        await graph.get("/users", params={"$select": "id,mail,preferredDataLocation"})
    ).json()
    assert_valid(selected, "Users.yml", "/users")
    one = (await graph.get(f"/users/{ADELE}")).json()
    assert_valid(one, "Users.yml", "/users/{user-id}")


async def test_organization(emulator: Emulator, graph: httpx.AsyncClient) -> None:
    denied = await graph.get("/organization")
    assert denied.status_code == 403
    assert_valid(denied.json(), "Identity.DirectoryManagement.yml", "/organization", "default")
    emulator.grant_role(CLIENT_ID, "Organization.Read.All")
    token = await fetch_token(emulator)  # roles are fixed in a token: a new one carries the grant
    reply = await graph.get("/organization", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    assert_valid(reply.json(), "Identity.DirectoryManagement.yml", "/organization")


async def test_validator_rejects_a_malformed_message(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.add_fault(kind="malformed", malformed="from")
    body = (await graph.get(f"/users/{ADELE}/mailFolders/inbox/messages/delta")).json()
    with pytest.raises(AssertionError, match="from"):
        assert_valid(
            body,
            FUNCTIONS,
            "/users/{user-id}/mailFolders/{mailFolder-id}/messages/microsoft.graph.delta()",
        )


async def test_mail_folders(graph: httpx.AsyncClient) -> None:
    folders = (await graph.get(f"/users/{ADELE}/mailFolders", params={"$top": "3"})).json()
    assert_valid(folders, MAIL, "/users/{user-id}/mailFolders")
    inbox = (await graph.get(f"/users/{ADELE}/mailFolders/inbox")).json()
    assert_valid(inbox, MAIL, "/users/{user-id}/mailFolders/{mailFolder-id}")
    children = (await graph.get(f"/users/{ADELE}/mailFolders/inbox/childFolders")).json()
    assert_valid(children, MAIL, "/users/{user-id}/mailFolders/{mailFolder-id}/childFolders")


@pytest.mark.parametrize(
    "select", [None, "internetMessageId,from,toRecipients,ccRecipients,receivedDateTime"]
)
async def test_message_delta_pages(
    graph: httpx.AsyncClient, emulator: Emulator, select: str | None
) -> None:
    path = "/users/{user-id}/mailFolders/{mailFolder-id}/messages/microsoft.graph.delta()"
    params = {"$select": select} if select else None
    body = (
        await graph.get(
            f"/users/{ADELE}/mailFolders/inbox/messages/delta", params=params, headers=PREFER
        )
    ).json()
    assert_valid(body, FUNCTIONS, path)
    while "@odata.nextLink" in body:
        body = (await graph.get(body["@odata.nextLink"], headers=PREFER)).json()
        assert_valid(body, FUNCTIONS, path)
    emulator.delete_message(
        ADELE,
        emulator.state.mailbox(ADELE).folder("inbox").collection.baseline.items(0, 1)[0]["id"],
    )
    changes = (await graph.get(body["@odata.deltaLink"])).json()
    assert changes["value"][0]["@removed"] == {"reason": "deleted"}
    assert_valid(changes, FUNCTIONS, path)


async def test_calendar_view_delta(graph: httpx.AsyncClient) -> None:
    body = (await graph.get(f"/users/{ADELE}/calendarView/delta", params=WINDOW)).json()
    assert body["value"]
    assert_valid(body, FUNCTIONS, "/users/{user-id}/calendarView/microsoft.graph.delta()")


async def test_error_bodies(graph: httpx.AsyncClient) -> None:
    for path in ("/users/ghost@contoso.com", f"/users/{ADELE}/calendarView/delta", "/nowhere"):
        reply = await graph.get(path)
        assert reply.status_code >= 400
        assert_valid(reply.json(), "Users.yml", "/users/{user-id}", "default")


# What the suite may read must be in the checkout: a fork or a fresh clone has nothing
# beside it. These patterns name the directory that sits beside the checkout on the
# machines where Rapport was first built (Microsoft's full OpenAPI files, the data sets).
CHECKOUT = Path(__file__).resolve().parents[2]
OUTSIDE_REFERENCES = (
    re.compile(r"\.\.['\"]?\s*[/\\,]\s*['\"]?shared\b"),
    re.compile(r"\bshared['\"]?\s*[/\\,]\s*['\"]?(graph-openapi|datasets|hooks)\b"),
)
FILE_PARENT = re.compile(r"parents\[(\d+)\]|\.parent\b")
NOT_SOURCE = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def _source_roots() -> list[Path]:
    """The packages (as pyproject.toml finds them), the tests, bench/ and tools/."""
    found = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [pattern.rstrip("*") for pattern in found["packages"]["find"]["include"]]
    return [CHECKOUT / name for name in [*packages, "tests", "bench", "tools"]]


def _source_files() -> list[Path]:
    files = []
    for root in _source_roots():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not NOT_SOURCE & set(path.relative_to(CHECKOUT).parts):
                files.append(path)
    return files


def _climbs_out(relative: Path, line: str) -> bool:
    """Whether `Path(__file__)` on this line goes up past the checkout's root: a file at
    depth d (tests/x.py: 2) reaches the root with d steps up; parents[N] is N + 1 steps."""
    if "__file__" not in line:
        return False
    steps = [int(n) + 1 if n else 1 for n in FILE_PARENT.findall(line)]
    ups = max(steps) if "parents[" in line else len(steps)
    return ups > len(relative.parts)


def reads_beside_the_checkout(relative: Path, line: str) -> bool:
    return any(p.search(line) for p in OUTSIDE_REFERENCES) or _climbs_out(relative, line)


def test_nothing_in_the_packages_tests_or_bench_reads_beside_the_checkout() -> None:
    files = _source_files()
    assert CHECKOUT / "tests" / "emulator" / "emulator_openapi.py" in files
    # This file is left out: its table below spells the reads the check must find.
    files.remove(Path(__file__).resolve())
    found = []
    for path in files:
        relative = path.relative_to(CHECKOUT)
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if reads_beside_the_checkout(relative, line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


@pytest.mark.parametrize(
    ("line", "reads_outside"),
    [
        ('DIR = Path(__file__).resolve().parents[3] / "shared/graph-openapi"', True),
        ('DIR = Path(__file__).resolve().parents[3] / "openapi"', True),
        ('DIR = Path(__file__).resolve().parent.parent.parent.parent / "openapi"', True),
        ('rows = open(os.path.join(ROOT, "..", "shared", "datasets", "x.csv"))', True),
        ('DIR = ROOT / ".." / "shared"', True),
        ('DIR = os.path.join(ROOT, "shared", "graph-openapi")', True),
        ('DIR = Path(__file__).resolve().parents[2] / "docs"', False),
        ('DIR = Path(__file__).resolve().parent / "openapi"', False),
        ('record = factories.activity(activity_id="shared")', False),
    ],
)
def test_the_check_tells_a_read_beside_the_checkout(line: str, reads_outside: bool) -> None:
    # As if the line were in tests/emulator/, where the faithfulness tests once read
    # Microsoft's files from parents[3] / "shared".
    assert reads_beside_the_checkout(Path("tests/emulator/probe.py"), line) is reads_outside


def test_the_openapi_copies_are_in_the_checkout_and_self_contained() -> None:
    assert OPENAPI_DIR.is_relative_to(CHECKOUT)
    listed = [
        line.split(" ", 1)
        for line in (OPENAPI_DIR / "operations.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert listed
    for file, path in listed:
        assert "get" in document(file)["paths"][path], f"{file} {path}"
    for file in {file for file, _ in listed}:
        doc = document(file)
        for ref in _references(doc):
            section, name = ref.removeprefix("#/components/").split("/", 1)
            assert name in doc["components"][section], f"{file}: dangling {ref}"


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)

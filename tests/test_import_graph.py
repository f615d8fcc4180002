"""The arrows between our packages (docs/architecture.md): no import circles anywhere,
each package imports only the packages its arrows allow, inside worker/ the calls go
downward only, and the web app reaches the worker only through what its top level shares.

The graph is grimp's (the library behind import-linter): every import statement,
at module level or inside a function, and those under TYPE_CHECKING too, since a
circle that only type checking closes is still two modules that cannot be read
apart.
"""

from __future__ import annotations

from functools import cache

import grimp

PACKAGES = (
    "compliance",
    "consent",
    "crm",
    "emulator",
    "graph_sync",
    "insights",
    "news",
    "scoring",
    "storage",
    "web",
    "worker",
)
# worker/'s top level: what is truly shared (settings, errors, logging, admin settings).
# Everything in a subpackage (cli, service, run, demo) is the worker's own.
WORKER_SUBPACKAGES = ("worker.cli", "worker.service", "worker.run", "worker.demo")


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=False)


def circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(imports.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while (member := stack.pop()) != module:
                component.append(member)
            component.append(module)
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return sorted(found)


def test_the_cycle_finder_finds_a_circle_and_only_that() -> None:
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert circles(imports) == [["a", "b", "c"]]


def test_no_module_imports_itself_back_through_others() -> None:
    imports_graph = graph()
    imports = {
        module: imports_graph.find_modules_directly_imported_by(module)
        for module in imports_graph.modules
    }
    assert circles(imports) == []


def test_web_imports_no_worker_internals() -> None:
    imports_graph = graph()
    reaching_in = sorted(
        (details["importer"], details["imported"], details["line_number"])
        for importer in imports_graph.find_descendants("web") | {"web"}
        for imported in imports_graph.find_modules_directly_imported_by(importer)
        if imported.startswith(tuple(f"{sub}." for sub in WORKER_SUBPACKAGES))
        or imported in WORKER_SUBPACKAGES
        for details in imports_graph.get_import_details(importer=importer, imported=imported)
    )
    assert reaching_in == []


def test_scoring_imports_no_other_package_of_ours() -> None:
    """scoring/ is pure (docs/architecture.md): plain data in, plain data out."""
    imports_graph = graph()
    ours = tuple(package for package in PACKAGES if package != "scoring")
    reaching_out = sorted(
        (details["importer"], details["imported"], details["line_number"])
        for importer in imports_graph.find_descendants("scoring") | {"scoring"}
        for imported in imports_graph.find_modules_directly_imported_by(importer)
        if imported in ours or imported.startswith(tuple(f"{package}." for package in ours))
        for details in imports_graph.get_import_details(importer=importer, imported=imported)
    )
    assert reaching_out == []


# Which of our packages each may import (docs/architecture.md, "The arrows"); `web` and
# `worker` are entry points and may import the rest (web: not worker's subpackages, above).
ALLOWED = {
    "storage": set(),
    "scoring": set(),
    "insights": {"scoring"},
    "consent": {"storage"},
    "graph_sync": {"storage", "consent"},
    "crm": {"storage", "consent", "graph_sync"},
    "compliance": {"storage"},
    "news": set(),
    "emulator": set(),
}
# Inside worker/: the CLI calls the service, the run and the demo; the service and the
# demo call the run; the run calls only worker's top level (`worker`), which calls none
# of them.
WORKER_ALLOWED = {
    "worker.cli": {"worker", "worker.service", "worker.run", "worker.demo"},
    "worker.service": {"worker", "worker.run"},
    "worker.demo": {"worker", "worker.run"},
    "worker.run": {"worker"},
    "worker": set(),
}


def _home(module: str, homes: tuple[str, ...]) -> str | None:
    """The longest of `homes` that `module` is or lies in."""
    found = [home for home in homes if module == home or module.startswith(f"{home}.")]
    return max(found, key=len) if found else None


def _arrows_against(allowed: dict[str, set[str]], homes: tuple[str, ...]) -> list[str]:
    imports_graph = graph()
    wrong = []
    for importer in sorted(imports_graph.modules):
        source = _home(importer, homes)
        if source not in allowed:
            continue
        for imported in sorted(imports_graph.find_modules_directly_imported_by(importer)):
            target = _home(imported, homes)
            if target is not None and target != source and target not in allowed[source]:
                wrong.append(f"{importer} -> {imported}")
    return wrong


def test_packages_import_only_what_the_arrows_allow() -> None:
    assert _arrows_against(ALLOWED, PACKAGES) == []


def test_worker_subpackages_call_downward_only() -> None:
    assert _arrows_against(WORKER_ALLOWED, (*WORKER_SUBPACKAGES, "worker")) == []

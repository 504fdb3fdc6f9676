"""The architecture of docs/architecture.md, checked independently of import-linter.

import-linter (`lint-imports`, run by .ci/run) enforces the layer contracts declared in
pyproject.toml. These tests check the same promises another way: grimp's import graph
(every import, including those inside functions and under TYPE_CHECKING) for cycles, and
a fresh interpreter's `sys.modules` for what importing the pure packages really loads.
"""

import json
import subprocess
import sys
from collections.abc import Iterable

import grimp
import pytest

PACKAGES = ("profiler", "reports", "workloads")
PURE = ("profiler.analysis", "reports", "profiler.live")
FORBIDDEN_FOR_PURE = (
    "sqlite3",
    "profiler.store",
    "profiler.sensors",
    "profiler.capture",
    "profiler.files",
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=True)


def strongly_connected(nodes: Iterable[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; returns the components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(edges, edges) == [{"a", "b", "c"}]
    assert strongly_connected(["x", "y"], {"x": {"y"}}) == []


def ours(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m.split(".")[0] in PACKAGES)


def test_no_module_import_cycle(graph: grimp.ImportGraph) -> None:
    modules = ours(graph)
    edges = {m: graph.find_modules_directly_imported_by(m) & set(modules) for m in modules}
    assert strongly_connected(modules, edges) == []


def package_of(module: str) -> str:
    """`profiler.store.database` -> `profiler.store`; top-level modules stand alone."""
    parts = module.split(".")
    if parts[0] == "profiler" and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0] if parts[0] in ("reports", "workloads") else module


def test_no_cycle_between_packages(graph: grimp.ImportGraph) -> None:
    """Sub-packages (profiler.store, profiler.cli, reports ...) form a DAG, not only modules."""
    edges: dict[str, set[str]] = {}
    for module in ours(graph):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] in PACKAGES and package_of(imported) != package_of(module):
                edges.setdefault(package_of(module), set()).add(package_of(imported))
    assert strongly_connected(sorted(edges), edges) == []


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_reach_no_store_sensor_or_database(
    graph: grimp.ImportGraph, package: str
) -> None:
    for module in [package, *graph.find_descendants(package)]:
        for forbidden in FORBIDDEN_FOR_PURE:
            for target in (
                [forbidden, *graph.find_descendants(forbidden)] if "." in forbidden else [forbidden]
            ):
                chain = graph.find_shortest_chain(importer=module, imported=target)
                assert chain is None, " -> ".join(chain or ())


def test_importing_pure_packages_loads_no_store_sensor_or_database() -> None:
    """What a fresh interpreter really loads for analysis, reports and the live view."""
    code = (
        "import json, sys\n"
        "import profiler.analysis.assess, profiler.model.series, profiler.live\n"
        "import reports.renderers.fleet, reports.renderers.run, reports.renderers.window\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
    )
    bad = [m for m in loaded if m == "sqlite3" or m.startswith(FORBIDDEN_FOR_PURE[1:])]
    assert bad == []


def test_workloads_import_nothing_of_profiler_or_reports(graph: grimp.ImportGraph) -> None:
    for module in ["workloads", *graph.find_descendants("workloads")]:
        imported = graph.find_upstream_modules(module)
        assert not {m for m in imported if m.split(".")[0] in ("profiler", "reports")}, module


ALLOWED_BEYOND_STDLIB = {
    "profiler.model": {"numpy"},
    "profiler.files": {"profiler.model"},
}
"""What the bottom packages may import besides the standard library (docs/architecture.md)."""


def imported_units(graph: grimp.ImportGraph, package: str) -> set[str]:
    """What `package` imports directly: other finwatt packages, and outside top-level names."""
    found: set[str] = set()
    for module in [package, *graph.find_descendants(package)]:
        for imported in graph.find_modules_directly_imported_by(module):
            ours = imported.split(".")[0] in PACKAGES
            found.add(package_of(imported) if ours else imported.split(".")[0])
    return found - {package}


@pytest.mark.parametrize("package", sorted(ALLOWED_BEYOND_STDLIB))
def test_bottom_packages_import_the_standard_library_and_their_allow_list_only(
    graph: grimp.ImportGraph, package: str
) -> None:
    extra = imported_units(graph, package) - set(sys.stdlib_module_names)
    assert extra <= ALLOWED_BEYOND_STDLIB[package], sorted(extra - ALLOWED_BEYOND_STDLIB[package])


def test_imported_units_sees_third_party_and_finwatt_imports(graph: grimp.ImportGraph) -> None:
    assert {"pydantic", "profiler.files", "workloads"} <= imported_units(graph, "profiler.settings")
    assert "numpy" in imported_units(graph, "profiler.model")

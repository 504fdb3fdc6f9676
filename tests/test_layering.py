"""The one-way flow of design.md: workloads import neither profiler nor reports;
analysis and reports never import sensors."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("workloads", ("profiler", "reports")),
        ("profiler/analysis", ("profiler.sensors",)),
        ("reports", ("profiler.sensors",)),
    ],
)
def test_layering(folder: str, forbidden: tuple[str, ...]) -> None:
    bad = {
        name
        for name in imported_modules(ROOT / folder)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    }
    assert not bad, f"{folder} imports {sorted(bad)} across the agreed layering"

"""Size limits (docs/style.md#small-modules): no function over 80 lines, no module over 500.

Counted with the AST over the shipped code and the benchmarks: a function's lines run from
its `def` to its last line (`end_lineno - lineno + 1`, decorators excluded), nested functions
counted on their own as well as inside their parent; a module's lines are its physical lines.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("profiler", "reports", "workloads", "bench")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500


def modules() -> list[Path]:
    """Return every Python module of the checked packages."""
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def function_lengths(source: str) -> list[tuple[int, int, str]]:
    """Return (lines, first line, name) of every function and method in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            found.append((node.end_lineno - node.lineno + 1, node.lineno, node.name))
    return found


def test_the_check_sees_the_code() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in modules()}
    assert {
        "profiler/analysis/assess.py",
        "reports/renderers/base.py",
        "workloads/base.py",
    } <= names
    assert len(names) > 150


def test_no_function_over_80_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{first} {name}: {lines} lines"
        for path in modules()
        for lines, first, name in function_lengths(path.read_text())
        if lines > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_no_module_over_500_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for path in modules()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


@pytest.mark.parametrize(("body_lines", "expected"), [(1, 2), (79, 80), (80, 81)])
def test_function_length_counts_def_to_last_line(body_lines: int, expected: int) -> None:
    source = "@decorator\ndef f():\n" + "    x = 1\n" * body_lines + "\n\ny = 2\n"
    assert function_lengths(source) == [(expected, 2, "f")]


def test_nested_and_async_functions_are_counted() -> None:
    source = "class C:\n    async def m(self):\n        def inner():\n            pass\n"
    assert sorted(function_lengths(source)) == [(2, 3, "inner"), (3, 2, "m")]

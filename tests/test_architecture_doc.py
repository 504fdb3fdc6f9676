"""docs/architecture.md stays true: every package is in its table, every name it cites exists."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_every_profiler_subpackage_has_a_row() -> None:
    packages = sorted(p.name for p in (ROOT / "profiler").iterdir() if (p / "__init__.py").exists())
    rows = set(re.findall(r"^\| `(\w+)` \|", DOC, flags=re.MULTILINE))
    assert set(packages) <= rows, f"missing rows: {sorted(set(packages) - rows)}"
    assert rows <= {*packages, "reports"}, f"rows for no package: {sorted(rows - set(packages))}"


def defined_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def test_the_walk_cites_files_and_names_that_exist() -> None:
    walk = DOC.split("## Follow one number", 1)[1].split("\n## ", 1)[0]
    cited = re.findall(r"`((?:[\w]+/)+[\w]+\.py)`\s+`([\w.]+)`", walk)
    assert len(cited) >= 10, cited
    for relative, dotted in cited:
        name = dotted.split(".")[-1]
        candidates = [ROOT / relative, ROOT / "profiler" / relative]
        path = next((c for c in candidates if c.exists()), None)
        assert path is not None, f"{relative} does not exist"
        assert name in defined_names(path), f"{relative} defines no {name}"


def test_the_walk_reads_the_report_through_the_one_loader() -> None:
    walk = DOC.split("## Follow one number", 1)[1].split("\n## ", 1)[0]
    view = " ".join(walk.split("5. **View.**", 1)[1].split())
    for cited in (
        "`workflows/run_data.py` `load_run_data`",
        "`reports/data.py` `report_data`",
        "`model/series.py` `cumulative_energy`",
    ):
        assert cited in view, f"the walk's view step does not cite {cited}"
    assert "`run_data` (`RunData(run, devices, phases, series)`" in DOC

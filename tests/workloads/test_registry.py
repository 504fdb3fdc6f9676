import ast
import subprocess
import sys
from pathlib import Path

import pytest

import workloads
from workloads import WORKLOADS, WorkloadError, get_workload
from workloads.inference import InferenceWorkload
from workloads.risk import RiskWorkload

PACKAGE = Path(workloads.__file__).parent


def test_names_and_classes():
    assert list(WORKLOADS) == ["risk", "inference", "ledger"]
    assert len(WORKLOADS) == 3
    assert get_workload("risk") is RiskWorkload
    assert get_workload("inference") is InferenceWorkload
    assert (RiskWorkload.unit, InferenceWorkload.unit) == ("scenario", "row")


def test_ledger_is_loaded_lazily_by_name():
    pytest.importorskip("workloads.ledger")
    cls = get_workload("ledger")
    assert cls.__name__ == "LedgerWorkload"
    assert cls.name == "ledger"


def test_unknown_workload_names_the_choices():
    with pytest.raises(
        WorkloadError, match="unknown workload 'fx': choose one of risk, inference, ledger"
    ):
        get_workload("fx")
    assert "fx" not in WORKLOADS


def test_all_matches_public_names():
    public = {
        name
        for name in vars(workloads)
        if not name.startswith("_") and name != "annotations" and not _is_submodule(name)
    }
    assert set(workloads.__all__) == public


def _is_submodule(name: str) -> bool:
    return type(getattr(workloads, name)).__name__ == "module"


def test_workloads_import_nothing_from_profiler_or_reports():
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"profiler", "reports"}, f"{path.name}: {name}"
    modules = [f"workloads.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('profiler', 'reports'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)

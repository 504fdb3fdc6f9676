"""NaN and Infinity are refused at every entry; `--json` is strict JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from profiler.cli.common import SITE_OPTION_NAMES, emit_json
from profiler.model.errors import FinwattRuntimeError
from profiler.settings.carbon import make_site
from profiler.settings.site_error import SiteError
from profiler.store.database import Store
from profiler.store.interchange import import_run
from tests.fakes.cli import run_finwatt
from tests.profiler.store.test_interchange import small_doc

NAMES = SITE_OPTION_NAMES


def _refuse(constant: str) -> float:
    raise AssertionError(f"not strict JSON: bare {constant}")


@pytest.mark.parametrize("field", ["carbon_intensity", "pue", "price_per_kwh"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_make_site_refuses_non_finite_numbers(field: str, value: float) -> None:
    with pytest.raises(SiteError, match=f"{getattr(NAMES, field)} must be a finite number"):
        make_site(**{field: value}, names=NAMES)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--carbon-intensity", "nan"), ("--price-per-kwh", "inf"), ("--pue", "nan")],
)
def test_cli_refuses_nan_site_option_with_exit_2(tmp_path: Path, option: str, value: str) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        import_run(store, small_doc())
    result = run_finwatt("analyze", "small", option, value, "--json", "--db", str(db))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and option in lines[0] and "finite" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_analyze_json_is_strict_json(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        import_run(store, small_doc())
    result = run_finwatt("analyze", "small", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout, parse_constant=_refuse)


def test_emit_json_refuses_nan_instead_of_printing_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FinwattRuntimeError, match="NaN or infinite"):
        emit_json({"ep": math.nan})
    assert capsys.readouterr().out == ""

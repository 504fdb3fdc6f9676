"""`finwatt run --report PATH` checks PATH before anything runs (docs/decisions.md#hostile-input).

Before, the path was checked only after the profiling run was stored: a directory or a
link to a file failed after minutes of load. Now the checks of `report -o`
(`profiler.files.outputs.check_output`) run first: exit 2 with one line, no run stored.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakes.cli import ledger_ladder
from tests.robustness._outputs_support import (
    assert_one_error_line,
    make_database,
    run_finwatt,
    table_rows,
)

PLANNED_S = 3 * 5.0 + 2 * 5.0
"""What the run below would take: 3 calibration intervals and 2 levels of 5 s each."""


def _bad_report_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Report paths the output policy refuses, with a word their error line must carry."""
    folder = tmp_path / "reports"
    folder.mkdir()
    victim = tmp_path / "victim.html"
    victim.write_text("keep me")
    link = tmp_path / "link.html"
    link.symlink_to(victim)
    return {
        "directory": (folder, "is a directory"),
        "link to a file": (link, "symbolic link"),
        "missing folder": (tmp_path / "no-such-folder" / "r.html", "does not exist"),
    }


@pytest.mark.parametrize("case", ["directory", "link to a file", "missing folder"])
def test_run_with_a_report_path_the_policy_refuses_exits_2_before_storing_anything(
    tmp_path: Path, case: str
) -> None:
    db = tmp_path / "f.db"
    make_database(db, samples=3)
    before = table_rows(db)
    path, words = _bad_report_paths(tmp_path)[case]
    began = time.monotonic()
    result = run_finwatt(
        *ledger_ladder("1,0", 5, db, "--device", "cpu", "--report", str(path)),
        timeout=PLANNED_S + 60,
    )
    took_s = time.monotonic() - began
    line = assert_one_error_line(result, 2)
    assert words in line, line
    assert table_rows(db) == before  # no run, no samples, no phases
    assert took_s < PLANNED_S / 2, f"the run went ahead for {took_s:.0f} s"
    assert (tmp_path / "victim.html").read_text() == "keep me"


def test_run_with_a_bad_report_path_creates_no_database(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    result = run_finwatt(
        "run", "ledger", "--quick", "--report", str(tmp_path), "--db", str(db), timeout=60
    )
    assert_one_error_line(result, 2)
    assert not db.exists()


def test_run_report_to_standard_output_with_json_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    result = run_finwatt(
        "run", "ledger", "--quick", "--json", "--report", "-", "--db", str(db), timeout=60
    )
    line = assert_one_error_line(result, 2)
    assert "--report" in line and "standard output" in line, line
    assert not db.exists()

"""The shipped systemd unit passes `systemd-analyze verify` where that tool exists."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_scheduler_unit_verifies(tmp_path: Path) -> None:
    unit = (ROOT / "docs" / "finwatt-scheduler.service").read_text()
    assert "ExecStart=/usr/local/bin/finwatt schedule daemon" in unit
    # verify checks that ExecStart exists: point it at this environment's finwatt
    finwatt = Path(sys.executable).with_name("finwatt")
    if not finwatt.exists():
        pytest.skip("no finwatt console script next to the interpreter")
    target = tmp_path / "finwatt-scheduler.service"
    target.write_text(unit.replace("/usr/local/bin/finwatt", str(finwatt)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "finwatt-scheduler.service" not in result.stderr, result.stderr


def test_cron_doc_runs_run_due() -> None:
    text = (ROOT / "docs" / "cron.md").read_text()
    assert "finwatt schedule run-due" in text

"""Two real jobs at once: their dynamic energy splits as their CPU time does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from profiler.store.database import Store
from tests.fakes.cli import FINWATT, exec_document

BURN = str(Path(__file__).with_name("burn.py"))


def test_jobs_holding_one_and_half_a_core_get_two_thirds_and_one_third(tmp_path: Path) -> None:
    db = str(tmp_path / "f.db")
    Store(tmp_path / "f.db").close()  # created once: two first opens would both migrate
    # 4 CPU s at a full core and 2 CPU s at half a core: both about 4 s of wall time
    jobs = [
        subprocess.Popen(
            [
                *FINWATT,
                "exec",
                "--db",
                db,
                "--json",
                "--interval",
                "0.25s",
                "--",
                sys.executable,
                BURN,
                cpu_s,
                duty,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cpu_s, duty in (("4", "1.0"), ("2", "0.5"))
    ]
    documents = []
    for job in jobs:
        _out, err = job.communicate(timeout=120)
        assert job.returncode == 0, err
        documents.append(exec_document(err))
    full, half = (d["dynamic_j"] for d in documents)
    assert full > 0 and half > 0
    assert full / (full + half) == pytest.approx(2 / 3, abs=0.05)
    assert half / (full + half) == pytest.approx(1 / 3, abs=0.05)

"""`profiler.measure(label, units=, tags=)`: the calling process tree's attributed energy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import profiler
from profiler.model.errors import FinwattInputError
from profiler.model.provenance import is_estimate
from profiler.store.database import Store

BURN = str(Path(__file__).parents[2] / "jobs" / "burn.py")


def test_measure_attributes_the_blocks_cpu_time_including_its_children(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with profiler.measure(
        "pricing", db=db, interval_s=0.1, unit="trades", tags={"desk": "fx"}
    ) as m:
        subprocess.run([sys.executable, BURN, "0.5", "1.0"], check=True)
        m.units = 400
    job = m.job
    assert job is not None
    assert job.cpu_s is not None and job.cpu_s >= 0.5  # the child's CPU time is the block's
    assert job.dynamic_j is not None and job.dynamic_j > 0
    assert job.provenance is not None and job.provenance.startswith("attributed:cpu-time(")
    cpu = m.device("cpu:0")
    assert is_estimate(job.provenance) == is_estimate(cpu.provenance)
    assert job.j_per_unit == pytest.approx((job.energy_j or 0) / 400)
    with Store(db) as store:
        assert store.jobs.get(m.run_id) == job
        run = store.runs.get(m.run_id)
    assert run is not None and run.kind == "monitor"
    assert job.tags == {"desk": "fx"} and job.unit == "trades"


@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ({"desk": ""}, "the value is empty"),
        ({"": "rates"}, "the key is empty"),
        ({"desk": "rates\x1b[2J"}, "control characters"),
    ],
)
def test_measure_refuses_tags_the_cli_refuses_and_stores_nothing(
    tmp_path: Path, tags: dict[str, str], says: str
) -> None:
    db = tmp_path / "f.db"
    with (
        pytest.raises(FinwattInputError, match=says),
        profiler.measure("bad", db=db, tags=tags),
    ):
        raise AssertionError("the block must not run")
    assert not db.exists()

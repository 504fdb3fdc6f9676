import hashlib
from pathlib import Path

import profiler
from profiler.store.database import Store


def test_measure_stores_the_window_and_reports_energy_with_provenance(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with profiler.measure("hash-loop", db=db, interval_s=0.05) as m:
        data = b"x" * 4096
        for _ in range(60_000):
            data = hashlib.sha256(data).digest() * 128
    cpu = m.device("cpu:0")
    assert cpu.samples >= 2
    assert cpu.energy_j is not None and cpu.energy_j > 0
    assert cpu.provenance is not None and cpu.provenance.split(":")[0] in {"measured", "estimated"}
    assert m.host_energy_j == sum(d.energy_j for d in m.devices if d.energy_j is not None)
    with Store(db) as store:
        run = store.runs.get(m.run_id)
        assert run is not None
        assert (run.kind, run.label, run.status) == ("monitor", "hash-loop", "complete")


def test_measure_marks_the_run_failed_when_the_block_raises(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    run_id = None
    try:
        with profiler.measure("boom", db=db) as m:
            run_id = m.run_id
            raise RuntimeError("workload crashed")
    except RuntimeError:
        pass
    with Store(db) as store:
        run = store.runs.get(run_id or "")
        assert run is not None and run.status == "failed"

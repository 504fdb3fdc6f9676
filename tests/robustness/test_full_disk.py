"""A full disk under the database (docs/decisions.md#hostile-input), on a real small tmpfs.

Before: the sample writer stopped at 48 s of 240 s while the monitor ran on and stored the
run `complete`, and later commands on that disk crashed. Now the first failed write stops
the recording; the run is `failed` with the reason and the time of its last stored sample
(marked by the next command when even that write failed); exit 1 with one line; every
command on the full disk answers with one line at most, and nothing stored is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from profiler.store.database import Store
from tests.fakes.cli import ledger_ladder
from tests.robustness._outputs_support import (
    assert_one_error_line,
    filled,
    make_database,
    run_finwatt,
    table_rows,
    tmpfs,
)

PLANNED_S = 60.0
"""The monitor's planned duration; the full disk must end it long before."""


@contextmanager
def nearly_full(tmp_path: Path, free_kib: int) -> Iterator[tuple[Path, str, Path]]:
    """Yield (database, its earlier run of 5 samples, the filler) on a 2 MiB tmpfs.

    The filler leaves `free_kib` KiB free; unlinking it makes room again.
    """
    with tmpfs(tmp_path / "mnt", 2048) as mount:
        db = mount / "f.db"
        earlier = make_database(db, samples=5)
        yield db, earlier, filled(mount, free_kib)


def test_monitor_on_a_disk_that_fills_stops_failed_with_one_line(tmp_path: Path) -> None:
    with nearly_full(tmp_path, 160) as (db, earlier, filler):
        began = time.monotonic()
        result = run_finwatt(
            "monitor",
            "--duration",
            f"{PLANNED_S:g}s",
            "--interval",
            "0.05s",
            "--json",
            "--db",
            str(db),
            timeout=PLANNED_S + 30,
        )
        took_s = time.monotonic() - began
        line = assert_one_error_line(result, 1)
        assert "disk is full" in line and "free space" in line
        assert took_s < PLANNED_S / 2, f"the monitor ran on for {took_s:.0f} s"
        filler.unlink()  # room again: the next command may have to mark the run
        runs = json.loads(run_finwatt("runs", "--json", "--db", str(db)).stdout)["runs"]
        failed = [r for r in runs if r["id"] != earlier]
        assert [r["status"] for r in failed] == ["failed"]
        with Store(db, read_only=True) as store:
            run = store.runs.get(failed[0]["id"])
            reason = store.runs.status_reason(failed[0]["id"])
            samples = store.samples.sample_rows(failed[0]["id"])
            assert (
                store.runs.get(earlier) is not None and len(store.samples.sample_rows(earlier)) == 5
            )
        assert run is not None and run.duration_s is not None
        assert reason is not None and "disk is full" in reason
        newest_t = max((s.t for s in samples), default=0.0)
        assert abs(run.duration_s - newest_t) < 0.01, (run.duration_s, newest_t)
        assert run.duration_s < PLANNED_S / 2


def test_every_command_on_a_full_disk_answers_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", 1024) as mount:
        db = mount / "f.db"
        run_id = make_database(db)
        before = table_rows(db)
        filled(mount, 0)
        doc = tmp_path / "doc.json"
        doc.write_text(run_finwatt("export", run_id, "--db", str(db)).stdout.replace(run_id, "x"))
        commands = [
            ["runs"],
            ["analyze", run_id],
            ["report", run_id, "-o", str(mount / "r.html")],
            ["export", run_id, "-o", str(mount / "e.json")],
            ["trend"],
            ["db", "stats"],
            ["db", "prune", "--keep-raw", "0d", "--keep-rollups", "0d"],
            ["import", str(doc)],
            ["monitor", "--duration", "2s", "--json"],
        ]
        for command in commands:
            result = run_finwatt(*command, "--db", str(db))
            assert "Traceback" not in result.stderr, (command, result.stderr)
            assert result.returncode in (0, 1, 2), (command, result.returncode)
            if result.returncode != 0:
                assert_one_error_line(result, result.returncode)
        # nothing stored was lost, and a prune, import or monitor that could not commit
        # left nothing half-done
        assert table_rows(db) == before


PROFILE_PLANNED_S = 3 * 10.0 + 3 * 10.0
"""The profiling run's plan below: 3 calibration intervals of 10 s, 3 levels of 10 s."""

CALIBRATION_S = 3 * 10.0
"""The calibration's planned length: without the fix the workers ran on to its end."""


def test_a_profiling_run_on_a_disk_that_fills_stops_failed_with_one_line(tmp_path: Path) -> None:
    # the 96 KiB left fill within a few seconds at 0.05 s sampling, inside the calibration;
    # before the fix the workers ran on to the end of the calibration or level (measured:
    # failure at t=4.2 s, exit after 32.9 s with --phase-seconds 20)
    with nearly_full(tmp_path, 96) as (db, earlier, filler):
        began = time.monotonic()
        result = run_finwatt(
            *ledger_ladder("1,0.5,0", 10, db, "--device", "cpu", "--interval", "0.05s", "--json"),
            timeout=PROFILE_PLANNED_S + 120,
        )
        took_s = time.monotonic() - began
        line = assert_one_error_line(result, 1)
        assert "disk is full" in line and "stored failed" in line, line
        assert result.stdout == ""  # no JSON document for a run that failed
        filler.unlink()
        runs = json.loads(run_finwatt("runs", "--json", "--db", str(db)).stdout)["runs"]
        [failed] = [r for r in runs if r["id"] != earlier]
        assert (failed["kind"], failed["status"]) == ("profile", "failed")
        assert "disk is full" in failed["status_reason"]
        with Store(db, read_only=True) as store:
            run = store.runs.get(failed["id"])
            samples = store.samples.sample_rows(failed["id"])
            kept = store.runs.get(earlier)
            assert kept is not None and kept.status == "complete"
            assert len(store.samples.sample_rows(earlier)) == 5
        assert run is not None and run.duration_s is not None
        assert run.status_reason == failed["status_reason"]
        newest_t = max((s.t for s in samples), default=0.0)
        assert abs(run.duration_s - newest_t) < 0.01, (run.duration_s, newest_t)
        assert run.duration_s < 10.0  # the disk filled inside the 30 s calibration
        # the command ended at the failed write, not at the calibration's planned end:
        # no phase was started, and the wall-clock bound is generous enough for a busy
        # host (the failure lands before 10 s; the bug ran on to 30 s and beyond)
        with Store(db, read_only=True) as store:
            assert store.phases.for_run(failed["id"]) == []
        assert took_s < CALIBRATION_S - 5.0, (took_s, run.duration_s)

"""`finwatt chargeback` end to end: a monitor run with jobs inside it (docs/attribution.md)."""

from __future__ import annotations

import csv
import io
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from profiler.model.attribution_rows import AttributionRow
from profiler.store.database import Store
from tests.fakes.cli import run_finwatt, start_finwatt

BURN = str(Path(__file__).with_name("burn.py"))


def test_chargeback_rows_add_up_to_the_hosts_energy_within_one_percent(tmp_path: Path) -> None:
    db = str(tmp_path / "f.db")
    Store(tmp_path / "f.db").close()
    monitor = start_finwatt("monitor", "--db", db, "--interval", "0.25s", "--json")
    time.sleep(1.0)
    for desk, cpu_s in (("rates", "1.0"), ("fx", "0.5")):
        done = run_finwatt(
            "exec",
            "--db",
            db,
            "--tag",
            f"desk={desk}",
            "--units",
            "10",
            "--",
            sys.executable,
            BURN,
            cpu_s,
            "1.0",
        )
        assert done.returncode == 0, done.stderr
    time.sleep(0.5)
    monitor.send_signal(signal.SIGINT)  # the monitor run covers both jobs
    out, err = monitor.communicate(timeout=60)
    assert monitor.returncode == 130, err
    host_j = sum(d["energy_j"] for d in json.loads(out)["devices"] if d["energy_j"] is not None)

    done = run_finwatt("chargeback", "--db", db, "--since", "1h", "--by", "tag:desk", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    rows = {r["group"]: r for r in document["rows"]}
    assert set(rows) == {"rates", "fx", "idle", "unattributed"}
    assert rows["rates"]["jobs"] == 1 and rows["rates"]["energy_j"] > 0
    assert rows["rates"]["provenance"].startswith("attributed:cpu-time(")
    assert rows["idle"]["energy_j"] >= 0 and rows["unattributed"]["energy_j"] >= 0
    assert sum(r["energy_j"] for r in document["rows"]) == pytest.approx(host_j, rel=0.01)

    as_csv = run_finwatt("chargeback", "--db", db, "--since", "1h", "--by", "tag:desk", "--csv")
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["group"] for r in csv_rows] == [r["group"] for r in document["rows"]]


def test_chargeback_by_cgroup_without_attribution_rows_is_bad_usage(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    Store(db).close()
    done = run_finwatt("chargeback", "--db", str(db), "--by", "cgroup")
    assert done.returncode == 2
    assert "monitor --attribute" in done.stderr


def test_chargeback_by_cgroup_reads_the_per_minute_attribution_rows(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        run = store.runs.create("monitor")
        src = "measured:rapl"
        store.attribution.add(
            run.id,
            [
                AttributionRow(
                    0,
                    "cgroup",
                    "docker:4f1a2b3c4d5e",
                    "docker",
                    None,
                    60,
                    30,
                    300.0,
                    0.0,
                    f"attributed:cpu-time({src})",
                ),
                AttributionRow(0, "cgroup", "other", None, None, 60, 10, 100.0, 0.0, None),
                AttributionRow(0, "host", "idle", None, None, 60, 0, 0.0, 600.0, src),
            ],
        )
        store.runs.finish(run.id, "complete")
    done = run_finwatt("chargeback", "--db", str(db), "--by", "cgroup", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["group"]: r["energy_j"] for r in json.loads(done.stdout)["rows"]}
    assert rows == pytest.approx(
        {"docker:4f1a2b3c4d5e": 300.0, "idle": 600.0, "unattributed": 100.0}
    )


def test_chargeback_rejects_an_unknown_grouping(tmp_path: Path) -> None:
    done = run_finwatt("chargeback", "--db", str(tmp_path / "f.db"), "--by", "desk")
    assert done.returncode == 2
    assert "tag:KEY, unit, command, cgroup, account, namespace, pod or label:KEY" in done.stderr

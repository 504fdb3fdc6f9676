"""A running `finwatt exec` job's energy so far in the exporter (`finwatt_job_energy_joules`).

End to end: `finwatt serve` and `finwatt exec` share a database folder; the job's series
appears while it runs, keyed by run, account and user, grows, and ends at the figure the
job stored. The progress files' reader is bounded against hostile folders.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from profiler.model.running_job import RunningJob
from profiler.prometheus.running import job_metrics
from profiler.workflows.job_progress import MAX_BYTES, STALE_S, read_running
from tests.fakes.cli import run_finwatt, start_finwatt
from tests.fakes.tools import free_port
from tests.profiler.prometheus.prometheus_harness import http_get

BURN = str(Path(__file__).parents[2] / "jobs" / "burn.py")


def job_series(text: str) -> dict[str, tuple[dict[str, str], float]]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "finwatt_job_energy_joules":
                found[sample.labels["run"]] = (sample.labels, sample.value)
    return found


def test_a_running_job_is_visible_in_the_exporter_and_ends_at_its_stored_figure(
    tmp_path: Path,
) -> None:
    db = tmp_path / "f.db"
    port = free_port()
    serve = start_finwatt("serve", "--db", str(db), "--port", str(port), "--interval", "0.5s")
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 20
        while True:
            try:
                http_get(url, timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and serve.poll() is None, "serve never answered"
                time.sleep(0.2)
        env = {"SLURM_JOB_ID": "9001", "SLURM_JOB_USER": "alice", "SLURM_JOB_ACCOUNT": "risk"}
        job = start_finwatt(
            "exec",
            "--db",
            str(db),
            "--interval",
            "0.25s",
            "--tag",
            "desk=rates",
            "--",
            sys.executable,
            BURN,
            "8",
            "0.8",
            env=env,
        )
        seen: list[float] = []
        labels: dict[str, str] = {}
        while job.poll() is None:
            series = job_series(http_get(url, timeout=2))
            for found, value in series.values():
                labels = found
                seen.append(value)
            time.sleep(0.5)
        _, err = job.communicate(timeout=30)
        assert job.returncode == 0, err
        assert len(seen) >= 2 and seen[-1] > 0, seen  # seen while it ran, more than once
        assert seen == sorted(seen)  # energy so far only grows
        assert labels["account"] == "risk" and labels["user"] == "alice"
        assert labels["tag_desk"] == "rates" and labels["tag_slurm_job_id"] == "9001"
        assert labels["provenance"].startswith("attributed:cpu-time(")
        [(final_labels, final)] = job_series(http_get(url, timeout=2)).values()
        assert final_labels == labels  # one series for the job's life
    finally:
        serve.terminate()
        serve.communicate(timeout=15)
    charged = run_finwatt(
        "chargeback", "--db", str(db), "--since", "1h", "--by", "account", "--json"
    )
    [risk] = [r for r in json.loads(charged.stdout)["rows"] if r["group"] == "risk"]
    assert final == pytest.approx(risk["energy_j"], rel=1e-9)


def write(folder: Path, name: str, doc: object) -> None:
    (folder / name).write_text(json.dumps(doc))


def test_the_reader_skips_what_is_not_a_fresh_job_file(tmp_path: Path) -> None:
    now = time.time()
    good = {
        "run_id": "r1",
        "started_s": now - 5,
        "updated_s": now - 1,
        "energy_j": 12.5,
        "provenance": "attributed:cpu-time(measured:rapl)",
        "tags": {"account": "risk"},
        "ended": False,
    }
    write(tmp_path, "r1.json", good)
    write(tmp_path, "r2.json", {**good, "run_id": "r2", "updated_s": now - STALE_S - 1})
    write(tmp_path, "r3.json", {**good, "run_id": "other"})  # name and id disagree
    write(tmp_path, "r4.json", {**good, "run_id": "r4", "tags": {"account": 3}})
    (tmp_path / "r5.json").write_text("{" + " " * MAX_BYTES + "}")  # too large
    (tmp_path / "r6.json").write_text("not json")
    os.mkfifo(tmp_path / "r7.json")  # a reader must not block on it
    write(tmp_path, "r8.json", {**good, "run_id": "r8", "ended": True, "updated_s": now - 400})
    jobs = read_running(tmp_path, now)
    assert [j.run_id for j in jobs] == ["r1"]
    assert read_running(tmp_path / "absent", now) == []


def test_tag_labels_are_bounded_and_valid_label_names() -> None:
    tags = {f"k{i}": "v" for i in range(12)} | {"bad-key": "x", "account": "risk"}
    job = RunningJob("r1", 0.0, 1.0, 5.0, None, tags)
    [family] = job_metrics([job])
    [sample] = family.samples
    tag_labels = [k for k in sample.labels if k.startswith("tag_")]
    assert len(tag_labels) == 8 and "tag_bad-key" not in sample.labels
    assert sample.labels["account"] == "risk" and sample.value == 5.0
    assert list(job_metrics([])) == []


def test_the_figure_so_far_is_computed_off_the_sampler_thread_and_spaced_by_its_cost(
    tmp_path: Path,
) -> None:
    import dataclasses
    import threading

    from profiler.model.job import JobRecord
    from profiler.model.samples import Tick
    from profiler.workflows.job_progress import JobProgress

    sampler = threading.current_thread()
    threads: list[threading.Thread] = []
    base = JobRecord(
        run_id="r9",
        command=["x"],
        exit_status=None,
        units=None,
        unit=None,
        tags={},
        seconds=None,
        dynamic_j=3.0,
        idle_j=1.0,
        idle_unallocated_j=0.0,
        host_energy_j=9.0,
        idle_share="none",
        provenance="attributed:cpu-time(measured:rapl)",
        cpu_s=None,
        gpu_s=None,
        peak_rss_bytes=None,
        accounting="process-tree",
    )

    def slow_figure() -> JobRecord:
        threads.append(threading.current_thread())
        time.sleep(0.1)
        return base

    progress = JobProgress(tmp_path, {"account": "risk"}, every_s=0.5)
    progress.begin("r9", slow_figure)
    started = time.monotonic()
    progress.on_tick(Tick(0, 0.0, {}, 0))
    assert time.monotonic() - started < 0.05  # the sampler does not wait for the figure
    deadline = time.monotonic() + 5
    while not (tmp_path / "r9.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert threads and threads[0] is not sampler
    progress.on_tick(Tick(1, 1.0, {}, 0))  # 1 s later: due at 0.5 s, but 20 x 0.1 s = 2 s
    time.sleep(0.3)
    assert len(threads) == 1
    progress.on_tick(Tick(2, 2.5, {}, 0))
    progress.end(dataclasses.replace(base, dynamic_j=10.0))
    [job] = read_running(tmp_path, time.time())
    assert job.ended and job.energy_j == 11.0 and job.tags == {"account": "risk"}

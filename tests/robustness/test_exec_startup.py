"""`finwatt exec` stopped during its start-up, and its JSON kept apart from the job's output.

A SIGTERM in `exec`'s first seconds used to end it with 143 and no message, by the
default action (racy), possibly with a run left `running`; `exec --json` printed the
job's stdout and finwatt's document on one stream. Now a signal before the job starts
starts nothing more (docs/design.md#cli-contract): one line, 128 + N, the job never
started, a run already created stored `interrupted` with the reason. The document goes
to stderr (`--json`) or to a file (`--json-file PATH`).
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from profiler.sensors.probe import SensorSet, probe_sensors
from profiler.settings.config import load_settings
from profiler.store.database import Store
from profiler.workflows import job as job_workflow
from profiler.workflows.exec_signals import JobStoppedError
from profiler.workflows.job import JobSpec, run_job
from profiler.workflows.signals import StopRequest
from tests.fakes.cli import exec_document, run_finwatt, run_finwatt_process, start_finwatt
from tests.robustness.contract import Home, assert_one_line_error, row_counts


def _touch_job(marker: Path) -> JobSpec:
    return JobSpec(["touch", str(marker)], interval_s=0.1)


def test_a_signal_before_the_probe_starts_nothing_and_records_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "job-ran"
    stop = StopRequest(signum=signal.SIGTERM)  # as the handler records it
    with pytest.raises(JobStoppedError) as raised:
        run_job(load_settings(tmp_path / "f.db"), _touch_job(marker), stop=stop)
    assert raised.value.exit_code == 143 and raised.value.run_id is None
    assert "nothing was recorded" in str(raised.value)
    assert not marker.exists()
    assert row_counts(tmp_path / "f.db").get("run", 0) == 0


def test_a_signal_while_the_sensors_open_closes_them_and_starts_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "job-ran"
    stop = StopRequest()
    closed: list[bool] = []

    def probing(settings: object) -> SensorSet:
        sensors = probe_sensors(sysfs_root=tmp_path)
        stop.signum = signal.SIGTERM  # came while the families were being opened
        monkeypatch.setattr(sensors, "close", lambda: closed.append(True))
        return sensors

    monkeypatch.setattr(job_workflow, "probe", probing)
    with pytest.raises(JobStoppedError):
        run_job(load_settings(tmp_path / "f.db"), _touch_job(marker), stop=stop)
    assert closed == [True] and not marker.exists()
    assert row_counts(tmp_path / "f.db").get("run", 0) == 0


def test_a_signal_once_the_run_exists_stores_it_interrupted_without_starting_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "job-ran"
    stop = StopRequest()
    from profiler.workflows.monitor import monitor_recording as real

    def recording(*args: object, **kwargs: object) -> object:
        made = real(*args, **kwargs)  # type: ignore[arg-type]
        stop.signum = signal.SIGINT  # came while the run's row was being written
        return made

    monkeypatch.setattr(job_workflow, "monitor_recording", recording)
    with pytest.raises(JobStoppedError) as raised:
        run_job(
            load_settings(tmp_path / "f.db"),
            _touch_job(marker),
            sensors=probe_sensors(sysfs_root=tmp_path),
            stop=stop,
        )
    assert raised.value.exit_code == 130 and not marker.exists()
    with Store(tmp_path / "f.db") as store:
        [run] = store.runs.all()
        assert store.jobs.get(run.id) is None
    assert raised.value.run_id == run.id
    assert run.status == "interrupted" and run.ended is not None
    assert run.status_reason == "SIGINT before the job started; the job was not run"


def test_sigterm_while_exec_waits_for_its_bmc_is_one_line_and_143(
    home: Home, http_server: object
) -> None:
    """Through the real CLI: the signal lands while the BMC probe is in flight."""
    arrived, release = threading.Event(), threading.Event()

    def slow_root(request: http.server.BaseHTTPRequestHandler) -> None:
        arrived.set()
        release.wait(10)
        request.send_response(404)
        request.send_header("Content-Length", "0")
        request.end_headers()

    url = http_server(slow_root)  # type: ignore[operator]
    home.config.parent.mkdir(parents=True, exist_ok=True)
    home.config.write_text(f'[bmc]\nredfish_url = "{url}"\nipmi = "off"\ntimeout_s = 5\n')
    marker = home.root / "job-ran"
    env = {**home.env, "FINWATT_CONFIG": str(home.config)}
    finwatt = start_finwatt("exec", "--", "touch", str(marker), env=env)
    try:
        assert arrived.wait(60), "finwatt never asked its BMC"
        finwatt.send_signal(signal.SIGTERM)
    finally:
        release.set()
    out, err = finwatt.communicate(timeout=60)
    done = subprocess.CompletedProcess(finwatt.args, finwatt.returncode, out, err)
    assert_one_line_error(done, 143, "SIGTERM", "the job was not started")
    assert not marker.exists()
    with Store(home.db) as store:
        assert all(run.status != "running" for run in store.runs.all())


JOB = 'import sys; print(\'{"schema": "not finwatt"}\'); print("job err", file=sys.stderr)'


def test_exec_json_keeps_stdout_the_jobs_own(home: Home) -> None:
    # the job writes to the real fd 1: the process boundary is the point
    done = run_finwatt_process("exec", "--json", "--", "python3", "-c", JOB, env=home.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"schema": "not finwatt"}\n'  # the job's, byte for byte
    assert exec_document(done.stderr)["exit_status"] == 0


def test_exec_json_file_holds_only_the_document(home: Home) -> None:
    document = home.root / "exec.json"
    done = run_finwatt_process(  # the job writes to the real fd 1
        "exec", "--json-file", str(document), "--", "python3", "-c", JOB, env=home.env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"schema": "not finwatt"}\n'
    written = json.loads(document.read_text())
    assert written["schema"] == "finwatt.exec/1" and written["exit_status"] == 0
    assert "job err" in done.stderr and "finwatt: job " in done.stderr  # the summary stays


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--json-file", "-"), ("--json-file", "stdout is the job's")),
        (("--json", "--json-file", "x.json"), ("--json (stderr) or --json-file",)),
        (("--json-file", "."), ("directory",)),
    ],
)
def test_a_bad_json_file_is_refused_before_the_job_starts(
    home: Home, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    marker = home.root / "job-ran"
    done = run_finwatt("exec", *args, "--", "touch", str(marker), env=home.env, cwd=home.root)
    assert_one_line_error(done, 2, *words)
    assert not marker.exists()

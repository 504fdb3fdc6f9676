"""The live view: state from scripted ticks, golden-text frames, the profiling-run panel,
the real CLI (`--once`, bad input) and a real terminal (tmux)."""

from __future__ import annotations

import difflib
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console
from rich.text import Text

import profiler.live
import profiler.live.terminal as terminal_module
from profiler.capture.runner import RunPlan
from profiler.capture.sampler import Sampler
from profiler.cli.common import SITE_OPTION_NAMES
from profiler.live import (
    EXIT_INTERRUPTED,
    LiveState,
    Rates,
    UnrecordedSource,
    fmt_energy,
    live_notes,
    render,
    run_live,
    sparkline,
)
from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.profile_status import ProfileStatus
from profiler.model.provenance import ESTIMATED_LINEAR_TDP, MEASURED_NVML_ENERGY
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import Reading, SampleRow, Tick
from profiler.model.savings import Site
from profiler.sensors.probe import probe_sensors
from profiler.settings.carbon import make_site
from profiler.store.database import Store
from profiler.workflows.profile_watch import ProfileWatch
from tests.fakes.cli import REPO_ROOT, run_finwatt
from tests.fakes.clock import FakeClock
from tests.fakes.fake_pynvml import GIB, FakeGpu, FakeNvml

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FINWATT_UPDATE_GOLDEN") == "1"

HOST = DeviceInfo("host", "host", model="Xeon", logical_cores=64, mem_total_bytes=512 * GIB)
CPU = DeviceInfo(
    "cpu:0", "cpu", model="Xeon", logical_cores=64, power_limit_w=280.0,
    provenance=ESTIMATED_LINEAR_TDP,
)  # fmt: skip
GPU = DeviceInfo(
    "gpu:0", "gpu", model="NVIDIA H100 80GB HBM3", mem_total_bytes=80 * GIB,
    power_limit_w=700.0, provenance=MEASURED_NVML_ENERGY,
)  # fmt: skip
FAMILIES = {"cpu": ["host", "cpu:0"], "model": ["cpu:0"], "nvml": ["gpu:0"]}
WALL_START = datetime(2026, 11, 2, 17, 30, 0, tzinfo=UTC)


def new_state(**kwargs: object) -> LiveState:
    defaults: dict[str, object] = {
        "interval_s": 1.0,
        "families": FAMILIES,
        "host": "risk-node-07",
        "wall_start": WALL_START,
    }
    return LiveState([HOST, CPU, GPU], **{**defaults, **kwargs})  # type: ignore[arg-type]


def end_of_day_batch(state: LiveState, seconds: int = 300) -> None:
    """A risk batch: the CPU at 30% then, from 200 s, at 90%; the GPU busy for a minute at
    450 W, then idle at 62 W. One tick a second, energies cumulative since the view started."""
    cpu_j = gpu_j = 0.0
    for t in range(1, seconds + 1):
        busy = t <= 60
        cpu_util = 0.3 if t <= 200 else 0.9
        cpu_w = 56.0 + 224.0 * cpu_util  # linear-tdp model, 56 W idle to 280 W
        gpu_w = 450.0 if busy else 62.0
        cpu_j += cpu_w
        gpu_j += gpu_w
        state.consume(
            Tick(
                t,
                float(t),
                {
                    "host": Reading("host", util=cpu_util, mem_used_bytes=64 * GIB),
                    "cpu:0": Reading(
                        "cpu:0", util=cpu_util, power_w=cpu_w, energy_j=cpu_j, clock_mhz=2600.0
                    ),
                    "gpu:0": Reading(
                        "gpu:0",
                        util=0.9 if busy else 0.0,
                        power_w=gpu_w,
                        energy_j=gpu_j,
                        mem_used_bytes=(40 if busy else 1) * GIB,
                        clock_mhz=1980.0 if busy else 345.0,
                        temperature_c=71.0 if busy else 38.0,
                    ),
                },
                0,
            )
        )


PROFILE = ProfileStatus(
    run_id="20261102-172500-a1b2c3",
    label="eod",
    workloads=("risk",),
    devices=("cpu",),
    phases_done=2,
    phases_planned=3,
    now=("risk", "cpu", 0.0),
    last=PhaseRecord(
        "risk",
        "cpu:0",
        0.5,
        0.0,
        10.0,
        12345.0,
        "scenario",
        0.49,
        metrics=PhaseMetrics.of(units_per_s=1234.5, j_per_1000_units=98.7),
    ),
)


def frame_text(state: LiveState, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, color_system=None, record=True, file=StringIO())
    console.print(render(state, width, height))
    return [line.rstrip() for line in console.export_text().splitlines()]


def assert_golden(name: str, lines: list[str]) -> None:
    path = GOLDEN / name
    text = "\n".join(lines) + "\n"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "\n".join(
            difflib.unified_diff(
                expected.splitlines(), lines, f"golden/{name}", "rendered", lineterm=""
            )
        )
        pytest.fail(
            f"live view rendering changed; if intended, rerun with FINWATT_UPDATE_GOLDEN=1 and "
            f"review the golden file:\n{diff}"
        )


# --- golden frames ------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(80, 24), (160, 48)])
def test_golden_frame(width: int, height: int) -> None:
    state = new_state()
    end_of_day_batch(state)
    state.set_profile(PROFILE)
    lines = frame_text(state, width, height)
    assert len(lines) <= height
    assert max(len(line) for line in lines) <= width
    assert_golden(f"live_{width}x{height}.txt", lines)


def test_frame_shows_gpu_row_estimated_badge_and_waste_note() -> None:
    state = new_state()
    end_of_day_batch(state)
    lines = frame_text(state, 80, 24)
    gpu = next(line for line in lines if line.startswith("gpu:0"))
    assert "62.0 W measured" in gpu
    assert "41.88 kJ" in gpu  # 60 s x 450 W + 240 s x 62 W
    assert "temp 38 °C · clock 345 MHz · mem 1.0/80.0 GiB" in lines[lines.index(gpu) + 1]
    cpu = next(line for line in lines if line.startswith("cpu:0"))
    assert "257.6 W ESTIMATED" in cpu
    assert "50.40 kJ" in cpu  # 200 s x 123.2 W + 100 s x 257.6 W
    text = "\n".join(lines)
    assert "! gpu:0 idle 4 min, drawing 62 W" in text
    assert "gpu:0 4m00s 14.88 kJ" in text  # 240 s below 5%, 240 s x 62 W
    assert "475 g/kWh (default)" in text
    assert "includes ESTIMATED" in text


def test_wide_frame_has_columns_and_reflows() -> None:
    state = new_state()
    end_of_day_batch(state)
    wide = frame_text(state, 160, 48)
    gpu = next(line for line in wide if line.startswith("gpu:0"))
    assert "38 °C" in gpu and "345 MHz" in gpu and "1.0/80.0 GiB" in gpu
    narrow = frame_text(state, 80, 24)
    assert not any("345 MHz" in line and line.startswith("gpu:0") for line in narrow)


def test_small_terminal_drops_detail_then_rows() -> None:
    state = new_state()
    end_of_day_batch(state)
    state.set_profile(PROFILE)
    lines = frame_text(state, 80, 16)
    assert len(lines) <= 16
    assert "… 3 more devices" in "\n".join(lines) or any(line.startswith("gpu:0") for line in lines)
    tiny = frame_text(state, 80, 14)
    assert len(tiny) <= 14
    assert any("more devices: enlarge the terminal" in line for line in tiny)


def test_before_any_tick_everything_is_na_not_zero() -> None:
    state = new_state()
    lines = frame_text(state, 80, 24)
    text = "\n".join(lines)
    assert "no reading yet" in text
    gpu = next(line for line in lines if line.startswith("gpu:0"))
    assert gpu.split() == ["gpu:0", "n/a", "n/a", "measured", "n/a"]
    assert "power now n/a" in text
    assert "CO2e n/a" in text
    assert " 0.0 " not in text


# --- state --------------------------------------------------------------------------


def test_degraded_tick_shows_na_and_counts_no_energy() -> None:
    state = new_state()
    state.consume(Tick(1, 1.0, {"gpu:0": Reading("gpu:0", util=0.0, power_w=60, energy_j=60)}, 0))
    state.consume(Tick(2, 2.0, {"gpu:0": Reading("gpu:0", status=DeviceStatus.DEGRADED)}, 0))
    state.consume(Tick(3, 3.0, {"gpu:0": Reading("gpu:0", util=0.0, power_w=60, energy_j=180)}, 0))
    gpu = state.devices["gpu:0"]
    assert gpu.energy_j == 180
    # (0, 1] and nothing else: (1, 2] had no utilisation, (2, 3] follows a gap
    assert gpu.below_energy_j == 60
    assert state.devices["host"].below_energy_j is None  # no energy: not in the waste panel
    state.consume(Tick(4, 4.0, {"gpu:0": Reading("gpu:0", status=DeviceStatus.DEGRADED)}, 0))
    row = next(line for line in frame_text(state, 80, 24) if line.startswith("gpu:0"))
    assert "n/a" in row and "DEGRADED" in row


def test_idle_note_needs_a_minute_and_power() -> None:
    state = new_state()
    for t in range(1, 60):
        state.consume(Tick(t, float(t), {"gpu:0": Reading("gpu:0", util=0.01, power_w=62.4)}, 0))
    assert live_notes(state) == []
    state.consume(Tick(60, 60.0, {"gpu:0": Reading("gpu:0", util=0.01, power_w=62.4)}, 0))
    assert live_notes(state) == ["gpu:0 idle 1 min, drawing 62 W"]
    state.consume(Tick(61, 61.0, {"gpu:0": Reading("gpu:0", util=0.5, power_w=300)}, 0))
    assert live_notes(state) == []


def test_history_keeps_two_minutes() -> None:
    state = new_state()
    for t in range(1, 301):
        state.consume(Tick(t, float(t), {"gpu:0": Reading("gpu:0", power_w=100.0)}, 0))
    history = state.devices["gpu:0"].history
    assert history[0][0] == 180.0 and history[-1][0] == 300.0


def test_sparkline() -> None:
    history = [(float(t), 70.0 * (t % 11)) for t in range(1, 121)]
    line = sparkline(history, 120.0, 12, 700.0)
    assert len(line) == 12 and set(line) <= set("▁▂▃▄▅▆▇█")
    assert sparkline([(119.0, 700.0)], 120.0, 4, 700.0) == "   █"  # no data: blank, not ▁
    assert sparkline([(119.0, 9999.0)], 120.0, 1, 700.0) == "█"  # above the limit: clipped
    assert sparkline([(119.0, 10.0), (59.0, 5.0)], 120.0, 2, None) == "▅█"


def test_energy_units() -> None:
    assert fmt_energy(None) == "n/a"
    assert fmt_energy(999.0) == "999.0 J"
    assert fmt_energy(41_880.0) == "41.88 kJ"
    assert fmt_energy(3_600_000.0) == "1.000 kWh"


def rates_from_options(
    carbon_intensity: float | None = None,
    pue: float | None = None,
    price_per_kwh: float | None = None,
    *,
    country: str | None = None,
) -> Rates:
    """What the CLI does: resolve (and validate) the site options, then build the rates."""
    site = make_site(
        country=country,
        carbon_intensity=carbon_intensity,
        pue=pue,
        price_per_kwh=price_per_kwh,
        names=SITE_OPTION_NAMES,
    )
    return Rates.from_site(site, code=country)


def test_rates_from_options() -> None:
    rates = rates_from_options(None, None, None)
    assert (rates.carbon_g_per_kwh, rates.carbon_source, rates.pue) == (475.0, "default", 1.0)
    assert rates_from_options(200.0, 1.5, 0.2).carbon_source is None
    france = rates_from_options(country="fra")
    assert france.carbon_source == "FRA" and 0 < france.carbon_g_per_kwh < 475
    for bad in ((-1.0, None, None), (None, 0.9, None), (None, None, -0.1)):
        with pytest.raises(ValueError, match="--"):
            rates_from_options(*bad)
    with pytest.raises(ValueError, match="--country"):
        rates_from_options(country="XXX")
    with pytest.raises(ValueError, match="not several"):
        rates_from_options(100.0, country="FRA")


def test_default_rates_are_the_default_site() -> None:
    assert new_state().rates == Rates.from_site(Site())
    rates = new_state().rates
    assert (rates.carbon_source, rates.pue_given, rates.price_per_kwh) == ("default", False, None)


def test_totals_use_rates() -> None:
    state = new_state(rates=rates_from_options(200.0, 1.5, 0.25))
    state.consume(
        Tick(1, 1.0, {"gpu:0": Reading("gpu:0", util=0.5, power_w=400.0, energy_j=400.0)}, 0)
    )
    text = "\n".join(frame_text(state, 100, 30))
    # 400 W x 1.5 = 0.6 kW: 120 g/h at 200 g/kWh, 0.15/h at 0.25/kWh
    assert "CO2e 120 g/h, 0.0333 g so far at 200 g/kWh\n" in text
    assert "cost 0.15/h" in text
    assert "PUE 1.50, facility = IT x PUE · cost" in text
    assert "without cpu:0" in text  # the CPU's power is unknown, not zero


def test_sampler_drives_state_on_a_fake_clock() -> None:
    fake = FakeNvml([FakeGpu(power_mw=62_000, util_gpu_pct=0)])
    sensors = probe_sensors(nvml_module=fake, sysfs_root=Path("/nonexistent"))
    try:
        state = LiveState(sensors.devices, interval_s=1.0, families=sensors.family_devices)
        clock = FakeClock(end=1003.5)
        clock.on_advance = lambda before, after: fake.gpus[0].run(after - before, 62.0)
        sampler = Sampler(
            sensors.families, sensors.family_devices, 1.0, [state.consume], clock=clock
        )
        sampler.run()
    finally:
        sensors.close()
    assert state.ticks == 3
    gpu = state.devices["gpu:0"]
    assert gpu.energy_j == pytest.approx(3 * 62.0)
    assert gpu.below_energy_j == pytest.approx(3 * 62.0)
    assert {d.device_id for d in sensors.devices} <= set(state.devices)


# --- the profiling-run panel --------------------------------------------------------


@pytest.fixture
def profile_db(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    db = tmp_path / "f.db"
    plan = RunPlan(workloads=("risk", "ledger"), devices=("cpu",), levels=(1.0, 0.5, 0.0))
    with Store(db) as store:
        run = store.runs.create("profile", label="eod", config=plan.as_config(), interval_s=1.0)
        store.devices.add(run.id, [HOST, CPU])
        store.samples.add(
            run.id, [SampleRow("cpu:0", float(t), util=0.9, energy_j=100.0 * t) for t in range(21)]
        )
        store.phases.add(
            run.id, PhaseRecord("risk", "cpu:0", 1.0, 0.0, 10.0, 5000.0, "scenario", 0.98)
        )
        yield db, run.id


def test_profile_watch_reads_a_running_profile(profile_db: tuple[Path, str]) -> None:
    db, run_id = profile_db
    status = ProfileWatch(db).poll()
    assert status is not None
    assert (status.run_id, status.label, status.phases_done, status.phases_planned) == (
        run_id,
        "eod",
        1,
        6,
    )
    assert status.now == ("risk", "cpu", 0.5)
    assert status.last is not None
    assert status.last.metrics.units_per_s == pytest.approx(500.0)
    assert status.last.metrics.j_per_1000_units == pytest.approx(200.0)  # 1000 J / 5000 units
    state = new_state()
    state.set_profile(status)
    text = "\n".join(frame_text(state, 100, 30))
    assert "500 scenario/s · 200 J per 1,000 scenario" in text
    assert "last: risk on cpu:0 at 100% load (achieved 98%)" in text
    assert "now (per plan): risk on cpu at 50% load" in text


def test_profile_watch_after_a_failed_workload(profile_db: tuple[Path, str]) -> None:
    db, run_id = profile_db
    with Store(db) as store:
        failed = PhaseRecord("risk", "cpu:0", 1.0, 10.0, 11.0, None, None, valid=False,
                             metrics=PhaseMetrics.of(error="worker died"))  # fmt: skip
        store.phases.add(run_id, failed)
    status = ProfileWatch(db).poll()
    assert status is not None and status.now == ("ledger", "cpu", 1.0)
    assert status.last is not None and status.last.metrics.error == "worker died"


def test_profile_watch_ignores_dead_and_finished_runs(profile_db: tuple[Path, str]) -> None:
    db, run_id = profile_db
    assert ProfileWatch(db, pid_alive=lambda pid: False).poll() is None
    with Store(db) as store:
        store.runs.finish(run_id, "complete")
    assert ProfileWatch(db).poll() is None


def test_profile_watch_does_not_create_a_database(tmp_path: Path) -> None:
    assert ProfileWatch(tmp_path / "none.db").poll() is None
    assert not (tmp_path / "none.db").exists()


# --- the refresh loop ---------------------------------------------------------------


class FakeSource:
    def __init__(self, state: LiveState) -> None:
        self.state = state
        self.started = self.stopped = False
        self.status: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, daemon=True)

    def _feed(self) -> None:  # ticks at 100 Hz: the screen must still redraw at <= 4 Hz
        t = 0
        while not self._stop.wait(0.01):
            t += 1
            self.state.consume(Tick(t, t / 100, {"gpu:0": Reading("gpu:0", power_w=1.0)}, 0))

    def start(self) -> None:
        self.started = True
        self._thread.start()

    def stop(self, status: str) -> None:
        self._stop.set()
        self._thread.join()
        self.stopped = True
        self.status = status


def test_run_live_redraws_at_most_4_hz_and_stops_on_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: list[float] = []
    real_render = terminal_module.render

    def counting_render(state: LiveState, width: int, height: int | None) -> Text | object:
        renders.append(time.monotonic())
        return real_render(state, width, height)

    monkeypatch.setattr(terminal_module, "render", counting_render)
    state = new_state()
    source = FakeSource(state)
    console = Console(file=StringIO(), width=80, height=24, force_terminal=True)
    killer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    killer.start()
    code = run_live(state, source, console=console, stdin=StringIO())
    killer.join()
    assert code == EXIT_INTERRUPTED
    assert source.started and source.stopped
    assert source.status == "interrupted"  # a --record run is stored as interrupted
    assert 3 <= len(renders) <= 8, renders  # ~1.5 s at <= 4 Hz
    gaps = [b - a for a, b in itertools.pairwise(renders)]
    assert min(gaps) >= 0.24


class PlainSampler:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")


def test_unrecorded_source_drops_the_status() -> None:
    sampler = PlainSampler()
    source = UnrecordedSource(sampler)
    source.start()
    source.stop("interrupted")
    assert sampler.calls == ["start", "stop"]


# --- the public API -----------------------------------------------------------------


def test_all_names_the_public_api() -> None:
    # the package imports its names on first use (PEP 562): each of `__all__` resolves,
    # and the package itself defines nothing else public
    modules = {name for name, value in vars(profiler.live).items() if isinstance(value, ModuleType)}
    public = {name for name in vars(profiler.live) if not name.startswith("_")} - modules
    assert public <= set(profiler.live.__all__) == set(profiler.live._HOMES)
    assert all(getattr(profiler.live, name) is not None for name in profiler.live.__all__)


# --- the real CLI -------------------------------------------------------------------

NARROW_PLAIN = {"COLUMNS": "100", "NO_COLOR": "1"}
"""The terminal the CLI tests give `finwatt live`: 100 columns, no colour codes."""


def test_once_has_a_row_per_doctor_device_and_records_nothing(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    doctor = run_finwatt("doctor", "--json", "--db", str(db), env=NARROW_PLAIN, cwd=REPO_ROOT)
    assert doctor.returncode == 0, doctor.stderr
    ids = [d["device"] for d in json.loads(doctor.stdout)["devices"]]
    once = run_finwatt(
        "live", "--once", "--interval", "0.2s", "--db", str(db), env=NARROW_PLAIN, cwd=REPO_ROOT
    )
    assert once.returncode == 0, once.stderr
    lines = once.stdout.splitlines()
    for device_id in ids:
        row = next((line for line in lines if line.split()[:1] == [device_id]), None)
        assert row is not None, f"no row for {device_id} in:\n{once.stdout}"
    assert "\x1b[" not in once.stdout  # NO_COLOR and not a terminal: plain text
    assert not db.exists()


def test_once_with_record_stores_a_monitor_run(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    result = run_finwatt(
        "live",
        "--once",
        "--record",
        "--interval",
        "0.2s",
        "--db",
        str(db),
        env=NARROW_PLAIN,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    with Store(db) as store:
        (run,) = store.runs.all()
        assert (run.kind, run.status) == ("monitor", "complete")
        assert store.samples.sample_rows(run.id)
    assert f"recording run {run.id}" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--interval", "100s"), "interval"),
        (("--pue", "0.5"), "--pue"),
        (("--carbon-intensity", "-3"), "--carbon-intensity"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    result = run_finwatt(
        "live", "--once", *args, "--db", str(tmp_path / "f.db"), env=NARROW_PLAIN, cwd=REPO_ROOT
    )
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- a real terminal ----------------------------------------------------------------


@pytest.mark.slow
def shell_finwatt(args: str) -> str:
    """Return a shell line that runs `finwatt ARGS` from the repository with this Python."""
    return f"cd {shlex.quote(str(REPO_ROOT))} && {shlex.quote(sys.executable)} -m profiler {args}"


class TmuxPane:
    """A real terminal: a 100 x 30 tmux session running one shell line."""

    def __init__(self, tmp_path: Path, name: str, command: str) -> None:
        self.tmux, self.name = ["tmux", "-S", str(tmp_path / "tmux.sock")], name
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "30",
                "-s",
                name,
                "sh",
                "-c",
                command,
            ],
            check=True,
        )

    def screen(self) -> str:
        """Return what the pane shows now."""
        capture = [*self.tmux, "capture-pane", "-p", "-t", self.name]
        return subprocess.run(capture, capture_output=True, text=True, check=False).stdout

    def wait_for(
        self, seen: Callable[[str], bool], timeout_s: float, ended: Callable[[], bool]
    ) -> str:
        """Return the screen once `seen(screen)`; fail after `timeout_s` or once `ended()`."""
        screen = ""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not ended():
            screen = self.screen()
            if seen(screen):
                return screen
            time.sleep(0.2)
        pytest.fail(f"never seen in {timeout_s:g} s; pane:\n{screen}")

    def send(self, keys: str) -> None:
        """Type `keys` into the pane."""
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, keys], check=True)

    def close(self) -> None:
        """End the tmux server and what runs in it."""
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, check=False)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (.ci/run installs it)")
def test_live_in_tmux_shows_devices_and_quits_on_q(tmp_path: Path) -> None:
    db, status, stty = tmp_path / "f.db", tmp_path / "status", tmp_path / "stty"
    doctor = run_finwatt("doctor", "--json", "--db", str(db), env=NARROW_PLAIN, cwd=REPO_ROOT)
    ids = [d["device"] for d in json.loads(doctor.stdout)["devices"]]
    command = shell_finwatt(
        f"live --interval 0.2s --db {shlex.quote(str(db))}; code=$?; "
        f"stty -a > {shlex.quote(str(stty))}; echo $code > {shlex.quote(str(status))}"
    )
    pane = TmuxPane(tmp_path, "live", command)
    try:

        def rows_shown(screen: str) -> bool:
            rows = [line.split()[:1] for line in screen.splitlines()]
            return all([i] in rows for i in ids) and "%" in screen

        screen = pane.wait_for(rows_shown, 15, lambda: False)
        assert "Totals" in screen and "Waste" in screen
        assert max(len(line) for line in screen.splitlines()) <= 100
        pane.send("q")
        sent = time.monotonic()
        while not status.exists() and time.monotonic() - sent < 5:
            time.sleep(0.05)
        took = time.monotonic() - sent
        assert status.exists(), "the view did not exit within 5 s of q"
        assert took <= 2.0, f"the view took {took:.2f}s to exit after q"
        assert status.read_text().strip() == "0"
        modes = stty.read_text().split()
        assert "icanon" in modes and "echo" in modes  # cbreak undone: terminal restored
        assert not db.exists()  # the view records nothing unless --record
    finally:
        pane.close()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (.ci/run installs it)")
def test_run_live_shows_the_profiling_panel_in_a_real_terminal(tmp_path: Path) -> None:
    db, status = tmp_path / "f.db", tmp_path / "status"
    command = shell_finwatt(
        "run ledger --levels 1,0.5,0 --phase-seconds 2 --size small --live --interval 0.2s "
        f"--db {shlex.quote(str(db))} > /dev/null; echo $? > {shlex.quote(str(status))}"
    )
    pane = TmuxPane(tmp_path, "run", command)
    try:
        screen = pane.wait_for(
            lambda screen: "Profiling run" in screen and "ledger" in screen, 60, status.exists
        )
        assert "cpu:0" in screen and "Totals" in screen
        deadline = time.monotonic() + 60
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.read_text().strip() == "0"
    finally:
        pane.close()

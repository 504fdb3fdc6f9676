# ruff: noqa: RUF001 - the report writes ranges with an en dash
"""The report's gathering step profiles the stored series: a month of a nightly batch host.

A real SQLite store holds four weeks of 5-minute monitoring (a `host` device and a
RAPL-measured `cpu:0`) ending now; `report --since` and the run report profile them in
the site's zone (here Europe/London through $TZ) with the pure core, and the page shows
those profiles' figures.
"""

from __future__ import annotations

import dataclasses
import html
import re
import time
from pathlib import Path

import numpy as np
import pytest

from profiler.analysis.demand import profile_demand
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.model.savings import Site
from profiler.model.units import epoch_to_iso
from profiler.store.database import Store
from profiler.workflows.report import (
    demand_of,
    gather_report,
    report_run,
    report_window,
    report_zone,
)
from reports.demand import MIN_SPAN_S
from tests.profiler.analysis.demand_series import LONDON, STEP_S, local_util, power_of, series

HOST = "batch-host"
WEEKS = 4


def _times(weeks: float) -> np.ndarray:
    """Return 5-min sample times ending now, aligned on the 5-minute grid."""
    end = (time.time() // STEP_S) * STEP_S
    return end - STEP_S * np.arange(int(weeks * 7 * 288) - 1, -1, -1)


def _write(path: Path, weeks: float = WEEKS) -> tuple[str, np.ndarray, np.ndarray]:
    """Write one monitor run of the nightly batch host; return (run id, t, util)."""
    t = _times(weeks)
    util = local_util(t, LONDON, lambda d, h, w: h in (23, 0), 0.35, 0.02)
    start = float(t[0] - STEP_S)
    with Store(path) as store:
        run = store.runs.create(
            "monitor", interval_s=STEP_S, started=epoch_to_iso(start), host=HOST, status="running"
        )
        store.devices.add(
            run.id,
            [
                DeviceInfo("host", "host", logical_cores=4),
                DeviceInfo("cpu:0", "cpu", logical_cores=4, provenance="measured:rapl"),
            ],
        )
        rel = t - start
        rows = [SampleRow("host", float(a), util=float(u)) for a, u in zip(rel, util, strict=True)]
        rows += [
            SampleRow("cpu:0", float(a), util=float(u), power_w=float(p))
            for a, u, p in zip(rel, util, power_of(util, 60.0, 160.0), strict=True)
        ]
        store.samples.add(run.id, rows)
        store.runs.finish(run.id, "complete", ended=epoch_to_iso(float(t[-1])))
    return run.id, t, util


@pytest.fixture
def london(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/London")


def _use_cells(page: str, device: str) -> list[str]:
    table = re.search(rf'<table class="week" id="use-{device}">.*?</table>', page, re.S)
    assert table is not None, device
    return [html.unescape(c) for c in re.findall(r'<td class="num">(.*?)</td>', table.group(0))]


def test_the_zone_is_the_hosts_until_the_settings_give_one(london: None) -> None:
    assert report_zone() == "Europe/London"


def test_the_window_report_profiles_the_stored_month(tmp_path: Path, london: None) -> None:
    _run_id, t, util = _write(tmp_path / "f.db")
    out = tmp_path / "w.html"
    with Store(tmp_path / "f.db") as store:
        report_window(store, (WEEKS * 7 + 1) * 86_400.0, Site(), out, host=HOST)
    page = out.read_text(encoding="utf-8")
    section = re.search(r'<section id="demand">.*?</section>', page, re.S)
    assert section is not None and "Europe/London" in section.group(0)
    expected = profile_demand(series("host", t, util), LONDON, Thresholds())
    assert _use_cells(page, "host") == [format(v, ".0f") for v in expected.util_mean * 100]
    assert "every day 23:00–01:00" in section.group(0)
    assert 'id="use-cpu:0"' in page and 'id="power-cpu:0"' in page


def test_the_run_report_of_a_month_long_monitor_run_has_the_section(
    tmp_path: Path, london: None
) -> None:
    run_id, _t, _util = _write(tmp_path / "f.db")
    out = tmp_path / "r.html"
    with Store(tmp_path / "f.db") as store:
        run = store.runs.get(run_id)
        assert run is not None
        report_run(store, run, Site(), out)
    page = out.read_text(encoding="utf-8")
    assert 'id="use-host"' in page and "every day 23:00–01:00" in page


def test_a_day_of_monitoring_says_the_span_is_too_short(tmp_path: Path, london: None) -> None:
    run_id, _t, _util = _write(tmp_path / "f.db", weeks=1 / 7)
    with Store(tmp_path / "f.db") as store:
        data = gather_report(store, run_id)
        assert data.duration_s is not None and data.duration_s < MIN_SPAN_S
        out = tmp_path / "r.html"
        run = store.runs.get(run_id)
        assert run is not None
        report_run(store, run, Site(), out)
    page = out.read_text(encoding="utf-8")
    assert 'id="demand-too-short"' in page and 'id="use-host"' not in page


def test_a_window_without_monitoring_data_says_so(tmp_path: Path, london: None) -> None:
    out = tmp_path / "w.html"
    with Store(tmp_path / "f.db") as store:
        report_window(store, 7 * 86_400.0, Site(), out, host=HOST)
    section = re.search(r'<section id="demand">.*?</section>', out.read_text(), re.S)
    assert section is not None and "No monitoring data: no demand profile." in section.group(0)


def test_gpus_are_profiled_by_sm_activity_and_dram_is_left_out() -> None:
    t = _times(WEEKS)
    sm = np.clip(local_util(t, LONDON, lambda d, h, w: d < 5 and 18 <= h < 21, 0.9, 0.0), 0, 1)
    gpu = dataclasses.replace(series("gpu:0", t, np.full(t.size, np.nan), kind="gpu"), sm_active=sm)
    dram = series("dram:0", t, np.full(t.size, np.nan), np.full(t.size, 5.0), kind="dram")
    parts = {"gpu:0": [(gpu, "raw", STEP_S)], "dram:0": [(dram, "raw", STEP_S)]}
    demand = demand_of(parts, WEEKS * 7 * 86_400.0, "Europe/London", Thresholds())
    assert [d.kind for d in demand.devices] == ["gpu"]
    profile = demand.devices[0].profile
    assert profile.busy_level == Thresholds().demand_busy_gpu
    labels = [w.label for w in profile.recurring]
    assert labels == [f"{d} 18:00-{d} 21:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri")]
    assert demand_of(parts, 86_400.0, "Europe/London", Thresholds()).devices == ()  # a day

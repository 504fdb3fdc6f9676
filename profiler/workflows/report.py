"""Write HTML reports: one run (analysed, findings kept) or a window across runs; print PDFs.

Used by `finwatt report`, `finwatt run --report` and scheduled runs. This module reads the
store and runs the analysis; `reports` renders the records it is given. `print_pdf` prints
a written report through headless Chromium (`report --pdf`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from profiler.analysis.demand import observed_seconds, profile_demand
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.week import local_seconds
from profiler.files.outputs import check_output, write_output
from profiler.model.errors import FinwattRuntimeError
from profiler.model.run import RunRecord
from profiler.model.savings import Site
from profiler.model.series import DeviceSeries, FloatArray, concatenate
from profiler.model.units import epoch_s
from profiler.settings.time_zones import host_zone_name, zone
from profiler.store.database import Store
from profiler.store.rollup import MINUTE_S
from profiler.workflows.analyze import (
    MONITORING_KINDS,
    AnalyzeError,
    analyze_run,
    analyze_since,
    host_history,
    store_findings,
    window_parts,
)
from profiler.workflows.run_data import choose_source, load_run_data
from profiler.workflows.trend import gather_trend, runs_in_window
from reports.data import ReportData, report_data
from reports.demand import MIN_SPAN_S, Demand, DeviceDemand
from reports.renderers.run import RunRenderer, RunReport
from reports.renderers.window import WindowRenderer, WindowReport

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Headless browsers `print_pdf` looks for on PATH, in order."""
PDF_TIMEOUT_S = 120.0


class PdfError(FinwattRuntimeError):
    """The PDF could not be printed: no headless Chromium, or it failed (exit 1)."""


def find_browser() -> str | None:
    """Return the path of the first headless Chromium on PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def print_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print a written HTML report to PDF through headless Chromium; return the PDF path.

    The page's print stylesheet sets the margins and page breaks; the paper size is the
    browser's default (A4 or Letter both fit). A zh-CN report needs a CJK font installed
    (Debian: fonts-noto-cjk) for its text to print. Chromium prints into a private
    folder; the PDF then reaches `pdf_path` by `profiler.files.outputs`' policy.

    Raises:
        PdfError: no Chromium on PATH, or it failed or timed out.
        OutputPathError: `pdf_path` cannot be used (a directory, a link to a file).
    """
    check_output(pdf_path)
    browser = find_browser()
    if browser is None:
        raise PdfError(
            "--pdf needs headless Chromium and none is on PATH; install it "
            "(Debian: apt-get install chromium fonts-noto-cjk) or leave out --pdf"
        )
    with tempfile.TemporaryDirectory(prefix="finwatt-pdf-") as profile:
        printed = Path(profile) / "report.pdf"  # copied to `pdf_path` by the output policy
        args = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={printed}",
            html_path.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(2, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            result = subprocess.run(args, capture_output=True, timeout=PDF_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as err:
            raise PdfError(f"{browser} took over {PDF_TIMEOUT_S:g} s to print {pdf_path}") from err
        if result.returncode != 0 or not printed.exists():
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise PdfError(f"{browser} could not print {pdf_path}: {tail[0]}")
        write_output(pdf_path, printed.read_bytes())
    return pdf_path


def default_report_path(run_id: str) -> Path:
    """Return `finwatt-report-<run id>.html` in the current directory."""
    return Path.cwd() / f"finwatt-report-{run_id}.html"


def gather_report(store: Store, run_id: str) -> ReportData:
    """Read a stored run (`load_run_data`, each device at its finest) into a `ReportData`.

    A device whose early raw samples retention pruned is reported from its minute
    rollups, which still cover the whole run (exact energy, minute means).

    Raises:
        KeyError: no run `run_id` in the store.
    """
    run = store.runs.get(run_id)
    if run is None:
        raise KeyError(run_id)
    data = load_run_data(store, run, source="finest")
    checked = {
        d.info.device_id: found
        for d in data.devices
        if d.info.device_id not in data.rolled_up
        and (found := store.samples.counter_disagreement(run_id, d.info.device_id)) is not None
    }
    return report_data(data, store.inventory.for_run(run_id), checked)


PROFILED = ("host", "cpu", "gpu")
"""The device kinds "When is the capacity used" profiles (DRAM and wall power have no use)."""

Part = tuple[DeviceSeries, Literal["raw", "minute"], float | None]
"""One run's part of a device's series (`t` epoch seconds), where it was read from, and
the run's stated sampling interval (None: not stated)."""


def report_zone(tz: str | None = None) -> str:
    """Return the IANA zone the report's local times are in: `[defaults] tz`, else this host's."""
    return tz or host_zone_name()


def _local(part: Part, tz: ZoneInfo) -> FloatArray:
    """Return each entry's local seconds at the middle of the interval it observed.

    A raw sample observes the interval before it. A minute rollup sits at its minute's
    start and holds the samples taken in that minute, each observing the interval
    before it: their middle is the minute's middle less half a sampling interval (at
    1 s, 29.5 s in; at 5 min, 2 min before the minute: such a rollup holds one sample,
    which observed the 5 minutes before it). The interval is the run's stated one, else
    the entries' median step where it is longer than a minute, else 1 s.
    """
    series, source, interval = part
    if source == "raw":
        return local_seconds(series.t - observed_seconds(series) / 2.0, tz)
    if interval is None:
        steps = np.diff(series.t)
        median = float(np.median(steps)) if steps.size else MINUTE_S
        interval = median if median > MINUTE_S else 1.0
    return local_seconds(series.t + (MINUTE_S - interval) / 2.0, tz)


def demand_of(
    parts: Mapping[str, Sequence[Part]], span_s: float, tz: str, thresholds: Thresholds
) -> Demand:
    """Return the demand profiles of each device's parts, joined (the newest spec wins).

    Hosts and CPU packages are profiled by utilisation, GPUs by SM activity (else
    utilisation) and busy at the IDLE_GPU bound, as the GPU rules judge them.
    """
    if span_s < MIN_SPAN_S:
        return Demand(tz, span_s)
    clock = zone(tz)
    devices: list[DeviceDemand] = []
    for pieces in parts.values():
        spec = pieces[-1][0].spec
        series = concatenate([dataclasses.replace(p[0], spec=spec) for p in pieces])
        gpu = spec.kind == "gpu"
        activity = np.where(np.isnan(series.sm_active), series.util, series.sm_active)
        if spec.kind not in PROFILED or bool(np.isnan(activity if gpu else series.util).all()):
            continue
        # `concatenate` orders the entries by time: order the local clock the same way
        order = np.argsort(np.concatenate([p[0].t for p in pieces]), kind="stable")
        local = np.concatenate([_local(p, clock) for p in pieces])[order]
        profile = profile_demand(
            series,
            local,
            thresholds,
            util=activity if gpu else None,
            busy_level=thresholds.demand_busy_gpu if gpu else None,
        )
        cores = spec.logical_cores if spec.kind == "host" else None
        devices.append(DeviceDemand(profile, spec.kind, cores))
    return Demand(tz, span_s, tuple(devices))


def run_demand(
    store: Store, run: RunRecord, thresholds: Thresholds, tz: str | None = None
) -> Demand:
    """Return the demand profiles of one run (none when it spans less than a week)."""
    records = store.devices.for_run(run.id)
    ended = run.ended.timestamp() if run.ended else time.time()  # a run still recording
    span = ended - run.started.timestamp()
    if span < MIN_SPAN_S:
        return Demand(report_zone(tz), span)
    chosen = choose_source(store, run.id, [d.info.device_id for d in records])
    offset = run.started.timestamp()
    parts = {
        d.info.device_id: [
            (
                store.samples.series(run.id, d.info, source=chosen).shifted(offset),
                chosen,
                run.interval_s,
            )
        ]
        for d in records
    }
    return demand_of(parts, span, report_zone(tz), thresholds)


def window_demand(
    store: Store,
    runs: Sequence[RunRecord],
    span: tuple[float, float],
    thresholds: Thresholds,
    tz: str | None = None,
) -> Demand | None:
    """Return the demand profiles of the monitoring runs in [start, end] (epoch seconds).

    The runs are read as `analyze --since` reads them (raw samples, or minute rollups
    for long runs); the span is that of the data read. None: no monitoring data.
    """
    parts: dict[str, list[Part]] = {}
    monitoring = [r for r in runs if r.kind in MONITORING_KINDS and not r.is_profiling]
    for part in window_parts(store, monitoring, span):
        if part.series.n:
            pieces = parts.setdefault(part.series.spec.device_id, [])
            pieces.append((part.series, part.source, part.run.interval_s))
    if not parts:
        return None
    times = [p[0].t for pieces in parts.values() for p in pieces]
    covered = float(max(t[-1] for t in times) - min(t[0] for t in times))
    return demand_of(parts, covered, report_zone(tz), thresholds)


def report_run(
    store: Store,
    run: RunRecord,
    site: Site,
    path: Path | None = None,
    thresholds: Thresholds | None = None,
    lang: str = "en",
    tz: str | None = None,
) -> Path:
    """Analyse `run` (storing its findings), render its report to `path`, return the path.

    The file is written by `profiler.files.outputs`' policy (`-` is standard output; a
    directory or a link to a file is refused; a file is replaced atomically).

    Raises:
        OutputPathError: the path cannot be used (exit 2).
        OutputWriteError: writing failed; an old report there is unchanged (exit 1).
    """
    result = analyze_run(store, run, site, thresholds or Thresholds())
    store_findings(store, result)
    target = path or default_report_path(run.id)
    data = gather_report(store, run.id)
    history = (
        host_history(store, run.host, site, thresholds or Thresholds())
        if run.is_profiling
        else None
    )
    demand = run_demand(store, run, thresholds or Thresholds(), tz)
    record = RunReport(data, result.assessment, history=history, demand=demand)
    html = RunRenderer(site=site, lang=lang).render(record)
    write_output(target, html)
    return target


def report_window(
    store: Store,
    since_s: float,
    site: Site,
    path: Path | None = None,
    *,
    host: str | None = None,
    thresholds: Thresholds | None = None,
    lang: str = "en",
    tz: str | None = None,
) -> Path:
    """Report the last `since_s` seconds across runs: findings, trend and daily energy.

    Findings cover the monitoring data of `host` (default this machine) in the window;
    when there is none the report says so instead of failing.
    """
    shown_host = host or socket.gethostname()
    trend = gather_trend(store, since_s, host=shown_host)
    try:
        result = analyze_since(
            store, since_s, site, thresholds or Thresholds(), host=host, tz=report_zone(tz)
        )
    except AnalyzeError:
        assessment, assumptions, annual = None, site.assumptions(), None
    else:
        assessment, assumptions = result.assessment, result.assessment.assumptions
        annual = result.annual
    start, end = epoch_s(trend.window_start), epoch_s(trend.window_end)
    runs = runs_in_window(store, start, end, shown_host)
    window = WindowReport(
        host=shown_host,
        runs=runs,
        trend=trend,
        assessment=assessment,
        assumptions=assumptions,
        annual=annual,
        demand=window_demand(store, runs, (start, end), thresholds or Thresholds(), tz),
    )
    html = WindowRenderer(site=site, lang=lang).render(window)
    target = path or Path.cwd() / f"finwatt-report-last-{int(since_s)}s.html"
    write_output(target, html)
    return target

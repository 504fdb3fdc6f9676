"""Write HTML reports: one run (analysed, findings kept) or a window across runs; print PDFs.

Used by `finwatt report`, `finwatt run --report` and scheduled runs. This module reads the
store and runs the analysis; `reports` renders the records it is given. `print_pdf` prints
a written report through headless Chromium (`report --pdf`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from profiler.analysis.thresholds import Thresholds
from profiler.files.outputs import check_output, write_output
from profiler.model.errors import FinwattRuntimeError
from profiler.model.run import RunRecord
from profiler.model.savings import Site
from profiler.model.units import epoch_s
from profiler.store.database import Store
from profiler.workflows.analyze import AnalyzeError, analyze_run, analyze_since, store_findings
from profiler.workflows.trend import gather_trend, runs_in_window
from reports.data import Columns, ReportData, report_data
from reports.renderers.run import RunRenderer, RunReport
from reports.renderers.window import WindowRenderer, WindowReport

MinuteRow = dict[str, Any]

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


def _minute_arrays(store: Store, run_id: str, device_id: str) -> dict[str, npt.NDArray[np.float64]]:
    """Return one device's minute rollups shaped like `store.samples.sample_arrays` columns.

    `t` is each minute's last sample, `util`/`power_w` the minute means, `energy_j` the
    cumulative energy at the minute's end; metrics rollups do not keep are NaN.
    """
    rows = store.samples.minute_rows(run_id, device_id)
    n = len(rows)

    def column(fn: Callable[[MinuteRow], float]) -> npt.NDArray[np.float64]:
        return np.array([fn(r) for r in rows], dtype=np.float64).reshape(n)

    def mean(total: str, count: str) -> Callable[[MinuteRow], float]:
        return lambda r: r[total] / r[count] if r[count] else np.nan

    energy = column(lambda r: np.nan if r["energy_delta_j"] is None else r["energy_delta_j"])
    nan = np.full(n, np.nan)
    return {
        "t": column(lambda r: r["t_last"]),
        "util": column(mean("util_sum", "util_n")),
        "power_w": column(mean("power_sum", "power_n")),
        "energy_j": np.where(np.isnan(energy), np.nan, np.nancumsum(energy)),
        "energy_from_power_j": nan,
        "mem_used_bytes": column(
            lambda r: np.nan if r["mem_max_bytes"] is None else r["mem_max_bytes"]
        ),
        "clock_mhz": nan,
        "temperature_c": nan,
        "sm_active": column(mean("sm_sum", "sm_n")),
    }


def gather_report(store: Store, run_id: str) -> ReportData:
    """Read a stored run, its devices, phases and samples into a `ReportData`.

    A device whose early raw samples retention pruned is reported from its minute
    rollups, which still cover the whole run (exact energy, minute means).

    Raises:
        KeyError: no run `run_id` in the store.
    """
    run = store.runs.get(run_id)
    if run is None:
        raise KeyError(run_id)
    devices = store.devices.for_run(run_id)
    columns: dict[str, Columns] = {}
    pruned: list[str] = []
    for device in devices:
        device_id = device.info.device_id
        cols = store.samples.sample_arrays(run_id, device_id)
        rolled = _minute_arrays(store, run_id, device_id)
        if rolled["t"].size and (not cols["t"].size or rolled["t"][0] < cols["t"][0] - 60.0):
            cols = rolled
            pruned.append(device_id)
        columns[device_id] = cols
    return report_data(
        run,
        devices,
        store.phases.for_run(run_id),
        columns,
        pruned,
        inventory=store.inventory.for_run(run_id),
    )


def report_run(
    store: Store,
    run: RunRecord,
    site: Site,
    path: Path | None = None,
    thresholds: Thresholds | None = None,
    lang: str = "en",
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
    html = RunRenderer(site=site, lang=lang).render(RunReport(data, result.assessment))
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
) -> Path:
    """Report the last `since_s` seconds across runs: findings, trend and daily energy.

    Findings cover the monitoring data of `host` (default this machine) in the window;
    when there is none the report says so instead of failing.
    """
    shown_host = host or socket.gethostname()
    trend = gather_trend(store, since_s, host=shown_host)
    try:
        result = analyze_since(store, since_s, site, thresholds or Thresholds(), host=host)
    except AnalyzeError:
        assessment, assumptions = None, site.assumptions()
    else:
        assessment, assumptions = result.assessment, result.assessment.assumptions
    start, end = epoch_s(trend.window_start), epoch_s(trend.window_end)
    window = WindowReport(
        host=shown_host,
        runs=runs_in_window(store, start, end, shown_host),
        trend=trend,
        assessment=assessment,
        assumptions=assumptions,
    )
    html = WindowRenderer(site=site, lang=lang).render(window)
    target = path or Path.cwd() / f"finwatt-report-last-{int(since_s)}s.html"
    write_output(target, html)
    return target

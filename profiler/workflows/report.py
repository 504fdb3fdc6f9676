"""Write HTML reports: one run (analysed, findings kept) or a window across runs.

Used by `finwatt report`, `finwatt run --report` and scheduled runs.
"""

from __future__ import annotations

import socket
from pathlib import Path

from profiler.analysis.savings import Site
from profiler.analysis.thresholds import Thresholds
from profiler.model.run import RunRecord
from profiler.model.units import epoch_s as _epoch
from profiler.store.database import Store
from profiler.workflows.analyze import AnalyzeError, analyze_run, analyze_since, store_findings
from profiler.workflows.trend import gather_trend
from reports.data import gather
from reports.render import render_window_html, write_report


def default_report_path(run_id: str) -> Path:
    """Return `finwatt-report-<run id>.html` in the current directory."""
    return Path.cwd() / f"finwatt-report-{run_id}.html"


def report_run(
    store: Store,
    run: RunRecord,
    site: Site,
    path: Path | None = None,
    thresholds: Thresholds | None = None,
) -> Path:
    """Analyse `run` (storing its findings), render its report to `path`, return the path.

    Raises:
        OSError: the report cannot be written (the message names the path).
    """
    result = analyze_run(store, run, site, thresholds or Thresholds())
    store_findings(store, result)
    target = path or default_report_path(run.id)
    data = gather(store, run.id, result.as_dict() | {"assumptions": result.assessment.assumptions})
    return write_report(target, data, site)


def report_window(
    store: Store,
    since_s: float,
    site: Site,
    path: Path | None = None,
    *,
    host: str | None = None,
    thresholds: Thresholds | None = None,
) -> Path:
    """Report the last `since_s` seconds across runs: findings, trend and daily energy.

    Findings cover the monitoring data of `host` (default this machine) in the window;
    when there is none the report says so instead of failing.
    """
    trend = gather_trend(store, since_s, host=host or socket.gethostname())
    try:
        result = analyze_since(store, since_s, site, thresholds or Thresholds(), host=host)
    except AnalyzeError:
        analysis, assumptions = None, site.assumptions()
    else:
        analysis, assumptions = result.as_dict(), result.assessment.assumptions
    start, end = _epoch(trend.window_start), _epoch(trend.window_end)
    runs = [
        r
        for r in store.list_runs()
        if (host or socket.gethostname()) == r.host
        and _epoch(r.started) <= end
        and (r.ended is None or _epoch(r.ended) >= start)
    ]
    html = render_window_html(
        host=host or socket.gethostname(),
        runs=runs,
        trend=trend,
        analysis=analysis,
        assumptions=assumptions,
        site=site,
    )
    target = path or Path.cwd() / f"finwatt-report-last-{int(since_s)}s.html"
    target.write_text(html, encoding="utf-8")
    return target

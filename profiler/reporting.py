"""Write a run's HTML report: analyse it, keep the findings, render (used by `report` and `run`)."""

from __future__ import annotations

from pathlib import Path

from profiler.analysis.savings import Site
from profiler.analysis.thresholds import Thresholds
from profiler.analyze import analyze_run, store_findings
from profiler.store import RunRecord, Store
from reports.data import gather
from reports.render import write_report


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

"""`finwatt run`: profile workloads on a load ladder and print the energy per unit of work.

The command parses its options into a `ProfileRequest`, hands it to
`profiler.workflows.profile` with what to show meanwhile (a progress bar, the live view,
or nothing for `--json`), then writes the report if asked and prints the outcome.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from profiler.cli.common import (
    NO_SITE_FLAGS,
    DbOption,
    JsonOption,
    LabelOption,
    SiteFlags,
    app,
    emit_json,
    err_console,
    fail,
    grid_code,
    out,
    parse_interval,
    parse_levels,
    parse_seconds,
    site_options,
    with_site_flags,
)
from profiler.model.device import DeviceInfo
from profiler.model.errors import EXIT_INTERRUPTED
from profiler.model.plan import Progress, RunPlan
from profiler.model.run import PhaseRecord
from profiler.model.samples import TickSink
from profiler.model.savings import Site
from profiler.settings.config import Settings, load_settings
from profiler.workflows.database import open_store
from profiler.workflows.profile import ProfileObserver, ProfileOutcome, ProfileRequest
from profiler.workflows.signals import always, stop_on_signals

if TYPE_CHECKING:
    from profiler.live import LiveState

RUN_LOCK_WAIT_S = 10.0
"""How long `finwatt run` waits for another run (or the scheduler's) to finish."""

WorkloadArgument = Annotated[
    list[str] | None, typer.Argument(help="Workloads: risk, inference, ledger (default all).")
]
DeviceOption = Annotated[str, typer.Option(help="cpu, gpu, all or gpu:N.")]
LevelsOption = Annotated[
    str | None, typer.Option(help="Target loads, e.g. 1,0.9,...,0.1,0 (0 = active idle).")
]
PhaseSecondsOption = Annotated[
    str | None, typer.Option(help="Length of each load level (default 60s; quick 4s).")
]
QuickOption = Annotated[
    bool, typer.Option(help="Levels 100%, 50%, idle of a few seconds: indicative.")
]
SizeOption = Annotated[str, typer.Option(help="Workload size: small, standard, large.")]
RunIntervalOption = Annotated[
    str | None, typer.Option(help="Sampling interval (default 1s; quick 0.25s).")
]
ReportOption = Annotated[Path | None, typer.Option(help="Write the HTML report here.")]
LiveOption = Annotated[
    bool, typer.Option("--live", help="Show the live view while the run goes on.")
]


@app.command("run")
@with_site_flags
def run_command(
    workload: WorkloadArgument = None,
    device: DeviceOption = "all",
    levels: LevelsOption = None,
    phase_seconds: PhaseSecondsOption = None,
    quick: QuickOption = False,
    size: SizeOption = "standard",
    interval: RunIntervalOption = None,
    label: LabelOption = None,
    report: ReportOption = None,
    live_view: LiveOption = False,
    site_flags: SiteFlags = NO_SITE_FLAGS,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Profile workloads on every device: calibrate, load ladder, energy per unit of work."""
    request = _plan_from_options(
        workload, device, levels, phase_seconds, quick, size, interval, label
    )
    _check_report_path(report, as_json=as_json)
    settings = load_settings(db)
    site = site_options(settings, site_flags)
    observer: ProfileObserver = _ProgressView(quiet=as_json)
    if live_view:
        observer = _LiveView(settings, site, grid_code(settings, site_flags))
    outcome = _profile(settings, request, observer)
    report_path = _write_report(settings, outcome, site, report)
    _print_profile(outcome, report_path, quick=quick, as_json=as_json)
    if outcome.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


def _plan_from_options(
    workload: list[str] | None,
    device: str,
    levels: str | None,
    phase_seconds: str | None,
    quick: bool,
    size: str,
    interval: str | None,
    label: str | None,
) -> ProfileRequest:
    """Turn `finwatt run`'s options into a request; a bad one is a usage error naming it."""
    from profiler.model.plan import (
        CALIBRATION_INTERVALS,
        DEFAULT_LEVELS,
        QUICK_CALIBRATION,
        QUICK_LEVELS,
    )
    from workloads import WORKLOADS
    from workloads.base import WorkloadError, parse_size

    names = tuple(workload or WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise typer.BadParameter(
            f"unknown workload {unknown[0]!r}: choose from {', '.join(WORKLOADS)}",
            param_hint="WORKLOAD",
        )
    try:
        size_value = parse_size(size).value
    except WorkloadError as err:
        raise typer.BadParameter(str(err), param_hint="--size") from err
    level_list = (
        parse_levels(levels) if levels is not None else (QUICK_LEVELS if quick else DEFAULT_LEVELS)
    )
    phase_s = _phase_s(phase_seconds) if phase_seconds is not None else (4.0 if quick else 60.0)
    interval_s = parse_interval(interval) if interval is not None else (0.25 if quick else 1.0)
    plan = RunPlan(
        workloads=names,
        devices=(),
        levels=level_list,
        phase_seconds=phase_s,
        calibration_interval_s=QUICK_CALIBRATION[0] if quick else min(10.0, phase_s),
        calibration_intervals=QUICK_CALIBRATION[1] if quick else CALIBRATION_INTERVALS,
        size=size_value,
        interval_s=interval_s,
        quick=quick,
    )
    return ProfileRequest(plan, device=device, label=label)


MAX_PHASE_S = 86400.0
"""The longest load level `--phase-seconds` takes: a day (SPECpower holds each 240 s)."""


def _phase_s(text: str) -> float:
    """Parse `--phase-seconds`: a duration of at most `MAX_PHASE_S`."""
    phase_s = parse_seconds(text, "--phase-seconds")
    if phase_s > MAX_PHASE_S:
        raise typer.BadParameter(
            f"{text!r} is longer than a day; use at most 24h per load level",
            param_hint="--phase-seconds",
        )
    return phase_s


def _profile(
    settings: Settings, request: ProfileRequest, observer: ProfileObserver
) -> ProfileOutcome:
    """Run the profile workflow; SIGINT/SIGTERM interrupt the ladder and keep its data."""
    from profiler.workflows.profile import DeviceChoiceError, LockWait, profile
    from profiler.workflows.runlock import LockHeldError

    try:
        with stop_on_signals(interrupt=always):
            return profile(settings, request, LockWait("finwatt run", RUN_LOCK_WAIT_S), observer)
    except DeviceChoiceError as err:
        raise typer.BadParameter(str(err), param_hint="--device") from err
    except LockHeldError as err:
        fail(f"cannot start the run: {err}")


class _ProgressView(ProfileObserver):
    """A progress bar on stderr while the ladder runs; nothing with `--json`.

    When stderr is not a terminal, log lines instead (`profiler.workflows.run_log`):
    one per phase and a heartbeat at least every 30 s.
    """

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet

    def waiting(self, holder: str) -> None:
        """Say whose run the command waits for."""
        err_console.print(f"waiting up to {RUN_LOCK_WAIT_S:g}s for {holder}", markup=False)

    @contextmanager
    def running(self, run_id: str, plan: RunPlan) -> Iterator[Progress | None]:
        """Announce the run and show its progress."""
        from profiler.cli.run_view import RunProgress

        if self.quiet:
            yield None
            return
        description = (
            f"profiling run {run_id}: {', '.join(plan.workloads)} on "
            f"{', '.join(plan.devices)}, levels {', '.join(f'{x:.0%}' for x in plan.levels)}, "
            f"{plan.phase_seconds:g}s each"
        )
        if not err_console.is_terminal:  # systemd, cron, CI: log lines, and a heartbeat
            from profiler.workflows.run_log import LineProgress

            with LineProgress(run_id, plan.duration_s()) as lines:
                lines.start(description.removeprefix(f"profiling run {run_id}: "))
                yield lines
            return
        err_console.print(description, markup=False)
        with RunProgress(err_console, plan.duration_s()) as view:
            yield view


class _LiveView(_ProgressView):
    """The full-screen live view while the ladder runs (`--live`)."""

    def __init__(self, settings: Settings, site: Site, code: str | None) -> None:
        super().__init__(quiet=True)
        self.settings = settings
        self.site = site
        self.code = code
        self.state: LiveState | None = None

    def sinks(
        self, devices: Sequence[DeviceInfo], families: Mapping[str, Sequence[str]], plan: RunPlan
    ) -> Sequence[TickSink]:
        """Feed every tick to the live view's state."""
        from profiler.live import LiveState, Rates

        state = LiveState(
            devices,
            interval_s=plan.interval_s,
            families=families,
            rates=Rates.from_site(self.site, code=self.code),
        )
        self.state = state
        return [state.consume]

    @contextmanager
    def running(self, run_id: str, plan: RunPlan) -> Iterator[Progress | None]:
        """Show the view, with the profiling panel, until the ladder ends."""
        from profiler.live import live_display
        from profiler.workflows.profile_watch import ProfileWatch

        if self.state is None:  # the workflow asks for sinks before the run starts
            raise RuntimeError("the live view has no state: sinks() was not called")
        with live_display(self.state, err_console, ProfileWatch(self.settings.db_path)):
            yield None


def _check_report_path(path: Path | None, *, as_json: bool) -> None:
    """Refuse a `--report` path the output policy refuses before anything runs (exit 2).

    The same checks as `report -o` (`profiler.files.outputs.check_output`): a directory,
    a link to a file or a missing folder fails here, so no run is stored for nothing.

    Raises:
        OutputPathError: the path cannot be written.
    """
    if path is None:
        return
    from profiler.files.outputs import OutputKind, check_output

    if check_output(path).kind is OutputKind.STDOUT and as_json:
        raise typer.BadParameter(
            "--report - and --json would both write to standard output: name a file",
            param_hint="--report",
        )


def _write_report(
    settings: Settings, outcome: ProfileOutcome, site: Site, path: Path | None
) -> str | None:
    """Write the run's HTML report to `path` if asked; return where it went."""
    if path is None:
        return None
    from profiler.workflows.report import report_run

    try:
        with open_store(settings) as store:
            return str(report_run(store, outcome.run, site, path))
    except OSError as err:
        fail(f"the run is stored ({outcome.run.id}) but the report could not be written: {err}")


def _print_profile(
    outcome: ProfileOutcome, report_path: str | None, *, quick: bool, as_json: bool
) -> None:
    """Print the outcome: one JSON document, or the phase and summary tables."""
    from profiler.cli.run_view import phase_table, summary_table

    run = outcome.run
    if as_json:
        emit_json(
            {
                "run": run.id,
                "status": run.status,
                "quick": quick,
                "phases": [phase_json(p) for p in outcome.phases],
                "summary": [s.as_dict() for s in outcome.summaries],
                "report": report_path,
            },
            doc="run",
        )
        return
    out.print(phase_table(outcome.phases))
    out.print(summary_table(outcome.summaries, quick=quick))
    out.print(f"run {run.id}: {run.status}", markup=False)
    if report_path:
        out.print(f"report: {report_path}", markup=False)


def phase_json(p: PhaseRecord) -> dict[str, object]:
    """Return one phase of `finwatt run --json`.

    `mean_power_w`, `units_per_j` and `j_per_1000_units` are the phase devices'; the
    `own_*` three are the workload's (`profiler.analysis.phases.workload_figures`): the
    same on a clean phase, its share by CPU time on a shared host, as the tables show.
    """
    from profiler.analysis.phases import workload_figures

    d, own = p.metrics, workload_figures(p)
    return {
        "workload": p.workload,
        "device": p.device_id,
        "target_load": p.target_load,
        "achieved_load": p.achieved_load,
        "valid": p.valid,
        "seconds": d.seconds,
        "units": p.units,
        "unit": p.unit,
        "units_per_s": d.units_per_s,
        "energy_j": d.energy_j,
        "mean_power_w": d.mean_power_w,
        "units_per_j": d.units_per_j,
        "j_per_1000_units": d.j_per_1000_units,
        "own_mean_power_w": own.mean_power_w,
        "own_units_per_j": own.units_per_j,
        "own_j_per_1000_units": own.j_per_1000_units,
        "cpu_share": d.cpu_share,
        "coverage": d.coverage,
        "provenance": d.provenance,
        "host_cpu_energy_j": d.host_cpu_energy_j,
        "units_per_j_incl_host": d.units_per_j_incl_host,
        "invalid_reasons": None if d.invalid_reasons is None else list(d.invalid_reasons),
        "foreign_cpu_share": d.foreign_cpu_share,
        "disturbed": d.disturbed,
        "attempts": d.attempts or 1,
        "reference_units_per_s": d.reference_units_per_s,
        "shared_host": bool(d.shared_host),
        "attributed_energy_j": d.attributed_energy_j,
        "attributed_provenance": d.attributed_provenance,
        "idle_share": d.idle_share,
        "error": d.error,
    }

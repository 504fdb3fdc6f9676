"""The profiling-run panel: a running profile's progress, the planned next step, last phase.

The figures come from a `ProfileSource` (`live.sources`; the CLI passes
`workflows.profile_watch.ProfileWatch`, which reads the store): the phases stored so far,
the step the run's plan puts next, and the last finished phase's throughput (units /
phase seconds) and J per 1,000 units.
"""

from __future__ import annotations

from rich.text import Text

from profiler.live.lines import line
from profiler.model.profile_status import ProfileStatus
from profiler.model.run import PhaseRecord


def profile_lines(profile: ProfileStatus, width: int) -> list[Text]:
    """Return the panel's lines (without its heading) for `profile`."""
    if profile.error:
        return [line(width, ("profiling run: ", "bold"), profile.error)]
    planned = f" of {profile.phases_planned}" if profile.phases_planned is not None else ""
    label = f" '{profile.label}'" if profile.label else ""
    lines = [
        line(
            width,
            ("run ", "bold"),
            f"{profile.run_id}{label} · {', '.join(profile.workloads) or 'n/a'} on "
            f"{', '.join(profile.devices) or 'n/a'} · {profile.phases_done}{planned} phases done",
        )
    ]
    if profile.now is not None:
        workload, device, level = profile.now
        lines.append(line(width, f"now (per plan): {workload} on {device} at {level:.0%} load"))
    return lines + _last_phase(profile.last, width)


def _last_phase(last: PhaseRecord | None, width: int) -> list[Text]:
    if last is None:
        return [line(width, ("no phase finished yet (calibrating or first level)", "dim"))]
    if last.units is None:  # the phase failed
        error = last.metrics.error or "failed"
        return [line(width, f"last: {last.workload} on {last.device_id} FAILED: {error}")]
    unit = last.unit or "units"
    achieved = "n/a" if last.achieved_load is None else f"{last.achieved_load:.0%}"
    units_per_s, per_1000 = last.metrics.units_per_s, last.metrics.j_per_1000_units
    rate = "n/a" if units_per_s is None else f"{units_per_s:,.0f} {unit}/s"
    per_k = "n/a" if per_1000 is None else f"{per_1000:.3g} J"
    return [
        line(
            width,
            f"last: {last.workload} on {last.device_id} at {last.target_load:.0%} load "
            f"(achieved {achieved})",
        ),
        line(width, "      ", (rate, "bold"), f" · {per_k} per 1,000 {unit}"),
    ]

"""A job run's own figures: the `job` table as a record (docs/attribution.md, `finwatt exec`).

A job is a command finwatt ran and followed (`finwatt exec`, `profiler.measure(...,
units=)`); its run (kind `job`) holds the devices' samples, this record what of that energy
was the job's: the dynamic energy shared by CPU time and the idle energy allocated by the
stated policy, with provenance `attributed:<method>(<source>)` (docs/attribution.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from profiler.model.text import has_control


@dataclass(frozen=True)
class JobRecord:
    """One row of the `job` table.

    Attributes:
        run_id: the job's run (kind `job`).
        command: the command line as run (argv), or the Python label for `measure()`.
        exit_status: the command's exit status (128 + N for signal N); None for `measure()`.
        units: units of work done (`--units` or the `FINWATT_UNITS_FILE` number).
        unit: the unit's name (`trades`, `paths`).
        tags: `--tag KEY=VALUE` pairs.
        seconds: wall-clock seconds of the job.
        dynamic_j: the job's share of the devices' dynamic energy, in joules.
        idle_j: the idle energy allocated to the job by `idle_share`, in joules.
        idle_unallocated_j: idle energy of the window not allocated to the job, in joules.
        host_energy_j: every device's energy over the window, in joules.
        idle_share: the idle policy (`none`, `cpu-time`, `cores`).
        provenance: `attributed:cpu-time(measured:rapl)` style, comma-joined per source.
        cpu_s: CPU seconds of the whole process tree (reaped children included).
        gpu_s: GPU-busy seconds of the tree's processes where NVML gives them, else None.
        peak_rss_bytes: the largest resident set of the tree seen (sum over its processes).
        accounting: how the tree was followed (`process-tree` or `cgroup:<path>`).
        details: anything else (idle power used and its source, per-device figures).

    """

    run_id: str
    command: list[str]
    exit_status: int | None
    units: float | None
    unit: str | None
    tags: dict[str, str]
    seconds: float | None
    dynamic_j: float | None
    idle_j: float | None
    idle_unallocated_j: float | None
    host_energy_j: float | None
    idle_share: str
    provenance: str | None
    cpu_s: float | None
    gpu_s: float | None
    peak_rss_bytes: int | None
    accounting: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def energy_j(self) -> float | None:
        """The job's charged energy (dynamic + allocated idle), in joules."""
        if self.dynamic_j is None:
            return None
        return self.dynamic_j + (self.idle_j or 0.0)

    @property
    def j_per_unit(self) -> float | None:
        """Charged joules per unit of work, None without units."""
        energy_j = self.energy_j
        if energy_j is None or not self.units:
            return None
        ratio = energy_j / self.units
        return ratio if math.isfinite(ratio) else None  # 1e-320 units: no figure, not inf


def parse_tag(text: str) -> tuple[str, str]:
    """Split one `--tag KEY=VALUE` into (key, value), checked by `tag_problem`.

    Only spaces around the key are dropped (`desk = x` is `desk`): a control character
    in the key is refused like one in the value, never stripped (`k<TAB>=v` stored as `k`
    would merge two tags silently).

    Raises:
        ValueError: no `=`, or what `tag_problem` says (one phrase, for a one-line error).
    """
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError("use KEY=VALUE")
    key = key.strip(" ")
    problem = tag_problem(key, value)
    if problem is not None:
        raise ValueError(problem)
    return key, value


def tag_problem(key: str, value: str) -> str | None:
    """Return why a job tag cannot be stored, or None when it can (CLI and `measure()`).

    Refused: an empty key or value (`--tag desk=$DESK` with DESK unset) and control
    characters (they would reach a terminal or a CSV through `chargeback`).
    """
    if not key.strip():
        return "the key is empty; use KEY=VALUE"
    if not value.strip():
        return "the value is empty; use KEY=VALUE"
    if has_control(key) or has_control(value):
        return "control characters are not allowed in tags"
    return None

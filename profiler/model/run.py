"""Runs and phases: the `run` and `phase` tables as records.

A run is one recording (kind `profile`, `monitor`, `scheduled`, `job`); a phase is one
workload held at one load level on one device during a profiling run.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from profiler.model.units import iso_z


class RunKind(enum.StrEnum):
    """What started a run (docs/design.md#data-model)."""

    PROFILE = "profile"
    MONITOR = "monitor"
    SCHEDULED = "scheduled"
    JOB = "job"


class RunStatus(enum.StrEnum):
    """Where a run stands; only `running` changes later."""

    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


@dataclass(frozen=True)
class RunRecord:
    """One row of the `run` table; `started`/`ended` are aware UTC datetimes.

    The `run` table and every JSON document carry them as ISO 8601 with a `Z` suffix
    (`started_iso`, `ended_iso`). `status_reason` says why a run ended `failed` or
    `interrupted` (a full disk, its process gone), where that was recorded; None otherwise.
    """

    id: str
    kind: RunKind
    label: str | None
    host: str
    started: datetime
    ended: datetime | None
    status: RunStatus
    config: dict[str, Any]
    version: str
    pid: int | None = None
    interval_s: float | None = None
    missed_ticks: int = 0
    status_reason: str | None = None

    def __post_init__(self) -> None:
        """Hold `kind` and `status` as the enums, also when given as their stored strings."""
        object.__setattr__(self, "kind", RunKind(self.kind))
        object.__setattr__(self, "status", RunStatus(self.status))

    @property
    def is_profiling(self) -> bool:
        """True for a profiling run: kind `profile`, or a scheduled `run` action.

        A scheduled profiling run has kind `scheduled` and config `"command": "run"`; its
        benchmark load is not usage, so `--since` leaves it out.
        """
        return self.kind is RunKind.PROFILE or (
            self.kind is RunKind.SCHEDULED and self.config.get("command") == "run"
        )

    @property
    def started_iso(self) -> str:
        """`started` as stored: ISO 8601 UTC, milliseconds, `Z` suffix."""
        return iso_z(self.started, "stored")

    @property
    def ended_iso(self) -> str | None:
        """`ended` as stored, None while the run has not ended."""
        return None if self.ended is None else iso_z(self.ended, "stored")

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, None while the run has not ended."""
        return None if self.ended is None else (self.ended - self.started).total_seconds()


_NUMBERS = (
    "x_max_units_per_s",
    "worker_seconds",
    "worker_cpu_seconds",
    "batches",
    "workers",
    "seconds",
    "energy_j",
    "mean_power_w",
    "units_per_s",
    "units_per_j",
    "j_per_1000_units",
    "coverage",
    "cpu_share",
    "host_cpu_energy_j",
    "units_per_j_incl_host",
    "foreign_cpu_share",
    "attempts",
    "profiler_cpu_seconds",
    "reference_units_per_s",
    "attributed_energy_j",
)
_TEXTS = ("provenance", "error", "attributed_provenance", "idle_share")
_FLAGS = ("disturbed", "shared_host")
_LISTS = ("energy_devices", "invalid_reasons")


def _accepts(name: str, value: Any) -> bool:
    if value is None:
        return True
    if name in _NUMBERS:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name in _TEXTS:
        return isinstance(value, str)
    if name in _FLAGS:
        return isinstance(value, bool)
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


@dataclass(frozen=True)
class PhaseMetrics:
    """A phase's figures, typed (stored as the `phase.details` JSON object).

    The runner records the first five while the phase runs; `analysis.phases` adds the
    rest from the samples once sampling has stopped (docs/methodology.md#ladder-metrics). Every
    figure is None where unknown. Keys of an imported document that finwatt does not read
    are kept verbatim in `extra`; `present` remembers which figures the record carries,
    so the stored object round-trips key for key.

    Attributes:
        x_max_units_per_s: calibrated 100 % throughput of the workload on the device.
        worker_seconds: seconds the workers worked in the phase.
        worker_cpu_seconds: CPU seconds the workers used (for `cpu_share`).
        batches: batches of work done.
        workers: worker processes.
        seconds: phase length in seconds.
        energy_devices: devices whose energy the phase is charged with.
        energy_j: their energy over the phase, in joules.
        mean_power_w: energy_j / seconds.
        units_per_s: throughput.
        units_per_j: efficiency.
        j_per_1000_units: energy per 1,000 units of work, in joules.
        coverage: share of expected samples present, counted as time (0..1).
        provenance: provenance(s) of the energy figure, comma-joined.
        cpu_share: the workers' CPU time over all CPU time on the host (0..1).
        host_cpu_energy_j: GPU phases: the CPU packages' energy over the phase.
        units_per_j_incl_host: GPU phases: units per joule of GPU plus CPU energy.
        invalid_reasons: why the phase is not valid (empty when valid).
        foreign_cpu_share: CPU time of other processes over the host's CPU capacity during
            the phase (0..1), where measured.
        profiler_cpu_seconds: CPU seconds finwatt's own process (sampler, writer, worker
            pool control) used during the phase: measurement overhead, not foreign load.
        disturbed: True when other processes' load makes the phase's figures unreliable.
        attempts: how many times the level was run (2 when it was retried, else absent).
        reference_units_per_s: the throughput the level's target is a share of and its
            achieved load is measured against: the 100 % level's, once it has run
            (docs/methodology.md#calibration); absent where it is the calibrated X_max.
        shared_host: True for a disturbed phase whose figures include the workload's own
            share of the energy by CPU time (docs/methodology.md#ladder-and-validity).
        attributed_energy_j: that share: the workers' CPU-time share of the dynamic
            energy plus the idle the `idle_share` policy allocates, in joules.
        attributed_provenance: `attributed:cpu-time(<source>)` of that share.
        idle_share: the idle policy of that share (`none`, `cpu-time`, `cores`).
        error: why the phase failed, when it did.
        extra: other keys of the stored object, kept as they came.
        present: the figures above that the record carries.

    """

    x_max_units_per_s: float | None = None
    worker_seconds: float | None = None
    worker_cpu_seconds: float | None = None
    batches: int | None = None
    workers: int | None = None
    seconds: float | None = None
    energy_devices: tuple[str, ...] | None = None
    energy_j: float | None = None
    mean_power_w: float | None = None
    units_per_s: float | None = None
    units_per_j: float | None = None
    j_per_1000_units: float | None = None
    coverage: float | None = None
    provenance: str | None = None
    cpu_share: float | None = None
    host_cpu_energy_j: float | None = None
    units_per_j_incl_host: float | None = None
    invalid_reasons: tuple[str, ...] | None = None
    foreign_cpu_share: float | None = None
    profiler_cpu_seconds: float | None = None
    disturbed: bool | None = None
    attempts: int | None = None
    reference_units_per_s: float | None = None
    shared_host: bool | None = None
    attributed_energy_j: float | None = None
    attributed_provenance: str | None = None
    idle_share: str | None = None
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    present: frozenset[str] = frozenset()

    @classmethod
    def of(cls, **values: Any) -> PhaseMetrics:
        """Return a record carrying exactly the figures given (None included)."""
        return cls().updated(**values)

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> PhaseMetrics:
        """Read a stored `details` object; a known key with a value of the wrong type is extra."""
        known = {k: v for k, v in details.items() if k in _FIGURES and _accepts(k, v)}
        extra = {k: v for k, v in details.items() if k not in known}
        return replace(cls.of(**known), extra=extra)

    def updated(self, **values: Any) -> PhaseMetrics:
        """Return this record with the given figures set (lists become tuples)."""
        unknown = set(values) - _FIGURES
        if unknown:
            raise TypeError(f"not a phase figure: {sorted(unknown)}")
        typed: dict[str, Any] = {
            k: tuple(v) if k in _LISTS and v is not None else v for k, v in values.items()
        }
        return replace(self, **typed, present=self.present | frozenset(values))

    def as_details(self) -> dict[str, Any]:
        """Return the JSON object stored in `phase.details`: key for key as read, sorted."""
        document = dict(self.extra)
        for name in sorted(self.present):
            value = getattr(self, name)
            document[name] = list(value) if isinstance(value, tuple) else value
        return dict(sorted(document.items()))


_FIGURES = frozenset(f.name for f in fields(PhaseMetrics)) - {"extra", "present"}


@dataclass(frozen=True)
class PhaseRecord:
    """One row of the `phase` table (a workload held at one load level on one device)."""

    workload: str
    device_id: str
    target_load: float
    t_start: float
    t_end: float
    units: float | None
    unit: str | None
    achieved_load: float | None = None
    valid: bool | None = None
    metrics: PhaseMetrics = field(default_factory=PhaseMetrics)

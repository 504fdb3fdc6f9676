"""Runs and phases: the `run` and `phase` tables as records.

A run is one recording (kind `profile`, `monitor`, `scheduled`, `job`); a phase is one
workload held at one load level on one device during a profiling run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RunKind(enum.StrEnum):
    """What started a run (design.md, "Data model")."""

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
    """One row of the `run` table; `started`/`ended` are ISO 8601 UTC with a `Z` suffix."""

    id: str
    kind: str
    label: str | None
    host: str
    started: str
    ended: str | None
    status: str
    config: dict[str, Any]
    version: str
    pid: int | None = None
    interval_s: float | None = None
    missed_ticks: int = 0


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
    details: dict[str, Any] = field(default_factory=dict)

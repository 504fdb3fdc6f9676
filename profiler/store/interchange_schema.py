"""The run interchange document's schema (version 1): pydantic models of its objects.

The shape is docs/design.md#run-interchange-format plus the optional fields
that make export -> import -> export lossless (docs/interchange.md). Every model is
strict and refuses unknown fields; `SampleDoc` is a `TypedDict`, not a model, so millions
of samples validate without a Python object each. `profiler.store.interchange` validates
documents against these models and streams runs in and out.

Each object maps to its model record both ways, side by side: a model's `record()` for
import, `run_object`/`device_object`/`phase_object` (plain dicts, the exported JSON) for
export. Findings are docs/design.md#findings objects on both sides.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from profiler.files.version import finwatt_version
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.durations import MAX_DURATION_S
from profiler.model.job import JobRecord
from profiler.model.run import PhaseMetrics, PhaseRecord, RunKind, RunRecord, RunStatus
from profiler.model.samples import MAX_ENERGY_J, MAX_POWER_W  # the sensor bounds too
from profiler.model.units import TimeSpec, iso_z, parse_iso

__all__ = [
    "FORMAT",
    "HOST_CPU_PHASE",
    "IMPORT_NOTE_KEY",
    "VERSION",
    "DeviceDoc",
    "FindingDoc",
    "JobDoc",
    "PhaseDoc",
    "RunDoc",
    "RunDocument",
    "SampleDoc",
    "canonical_utc",
    "device_object",
    "job_object",
    "phase_object",
    "run_object",
]

FORMAT = "finwatt-run"
VERSION = 1

HOST_CPU_PHASE = "cpu"
"""A phase's `device` may be `cpu`: the host's CPU, every `cpu:N` package summed (the
runner records it on multi-package hosts; `profiler.analysis.phases.HOST_CPU`)."""

IMPORT_NOTE_KEY = "imported_from"
"""Key of a run's config that notes where an imported run came from (left out on export)."""

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_DEVICE_ID = re.compile(
    r"(cpu|dram|gpu):(0|[1-9][0-9]*)|gpu:(0|[1-9][0-9]*)/mig:(0|[1-9][0-9]*)|host|node"
)
"""Device ids: `cpu:N`, `dram:N`, `gpu:N`, a MIG GPU instance `gpu:N/mig:G`, `host`, `node`."""
_PROVENANCE = re.compile(r"(measured|estimated):\S+")


def canonical_utc(text: str) -> str:
    """Return an ISO-8601 timestamp with an explicit offset as UTC with a `Z` suffix.

    Milliseconds are kept as finwatt writes them (`2026-11-01T00:00:00.000Z`);
    microseconds only when the value has them, so nothing is rounded away.

    Raises:
        ValueError: `text` is not ISO 8601 or has no UTC offset.

    """
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise ValueError(
            f"{text!r} is not an ISO-8601 timestamp such as 2026-11-01T00:00:00Z"
        ) from err
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write it as UTC, e.g. ending in Z")
    spec: TimeSpec = "milliseconds" if when.microsecond % 1000 == 0 else "microseconds"
    return iso_z(when, spec)


def finite_tree(value: Any, where: str = "") -> Any:
    """Return `value` unchanged when every number in it is finite (JSON has no NaN).

    Integers must fit 64 bits, as SQLite and most JSON readers hold them.

    Raises:
        ValueError: a NaN or infinite number, or an integer beyond 64 bits, named by its
            path inside `value`.

    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'} must be a finite number (got {value!r})")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError(
            f"{where or 'value'} must be an integer of at most 64 bits "
            f"(got one of {value.bit_length()} bits)"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            finite_tree(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            finite_tree(item, f"{where}[{i}]")
    return value


def _finite_object(value: Any) -> Any:
    if value is None:
        return None
    return finite_tree(value)


_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

_Timestamp = Annotated[str, Field(description="ISO-8601 UTC, e.g. 2026-11-01T00:00:00Z")]
_Fraction = Annotated[float, Field(ge=0, le=1)]
_Count = Annotated[int, Field(ge=0, le=2**63 - 1)]  # SQLite INTEGER is 64-bit

_Seconds = Annotated[float, Field(ge=0, le=MAX_DURATION_S)]
_Power = Annotated[float, Field(ge=0, le=MAX_POWER_W)]
_Energy = Annotated[float, Field(ge=0, le=MAX_ENERGY_J)]
_Cores = Annotated[int, Field(gt=0, le=2**20)]


class JobDoc(BaseModel):
    """The `run.job` object of a job run (kind `job`): its `job` row (`JobRecord`).

    Every field of the row but `run_id` (the run's own id on import).
    """

    model_config = _STRICT

    command: Annotated[list[str], Field(min_length=1)]
    exit_status: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None = None
    units: Annotated[float, Field(ge=0, le=1e18)] | None = None
    unit: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    seconds: _Seconds | None = None
    dynamic_j: _Energy | None = None
    idle_j: _Energy | None = None
    idle_unallocated_j: _Energy | None = None
    host_energy_j: _Energy | None = None
    idle_share: Literal["none", "cpu-time", "cores"] = "none"
    provenance: str | None = None
    cpu_s: Annotated[float, Field(ge=0, le=MAX_DURATION_S * 2**20)] | None = None
    gpu_s: Annotated[float, Field(ge=0, le=MAX_DURATION_S * 2**20)] | None = None
    peak_rss_bytes: _Count | None = None
    accounting: Annotated[str, Field(min_length=1)] = "process-tree"
    details: dict[str, Any] = Field(default_factory=dict)

    _finite_details = field_validator("details")(_finite_object)

    def record(self, run_id: str) -> JobRecord:
        """Return the job row to store for run `run_id`."""
        return JobRecord(run_id=run_id, **self.model_dump())


class RunDoc(BaseModel):
    """The `run` object: identity, kind, host and wall-clock span of a run (UTC)."""

    model_config = _STRICT

    id: str
    kind: Literal["profile", "monitor", "scheduled", "job"]
    label: str | None = None
    host: Annotated[str, Field(min_length=1)]
    started: _Timestamp
    ended: _Timestamp | None = None
    status: Literal["running", "complete", "interrupted", "failed"]
    status_reason: str | None = None
    interval_s: Annotated[float, Field(gt=0, le=86400)] | None = None
    missed_ticks: _Count = 0
    finwatt_version: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    inventory: dict[str, Annotated[str, Field(max_length=4096)] | None] | None = Field(
        None, description="What the run ran on: kernel, microcode, firmware..."
    )
    job: JobDoc | None = None

    @field_validator("job")
    @classmethod
    def _check_job(cls, value: JobDoc | None, info: ValidationInfo) -> JobDoc | None:
        if value is not None and info.data.get("kind") not in (None, "job"):
            raise ValueError(
                f"only a run of kind 'job' has one (this run is {info.data['kind']!r})"
            )
        return value

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _RUN_ID.fullmatch(value):
            raise ValueError(
                "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a "
                "letter or digit"
            )
        return value

    @field_validator("started")
    @classmethod
    def _check_started(cls, value: str) -> str:
        return canonical_utc(value)

    @field_validator("ended")
    @classmethod
    def _check_ended(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        ended = canonical_utc(value)
        started = info.data.get("started")
        if started is not None and _instant(ended) < _instant(started):
            raise ValueError(f"{value!r} is before run.started {started!r}")
        return ended

    _finite_config = field_validator("config")(_finite_object)

    def record(self, config: dict[str, Any]) -> RunRecord:
        """Return the run to store: `config` as given, no owner process (it ran elsewhere)."""
        return RunRecord(
            id=self.id,
            kind=RunKind(self.kind),
            label=self.label,
            host=self.host,
            started=parse_iso(self.started),
            ended=None if self.ended is None else parse_iso(self.ended),
            status=RunStatus(self.status),
            config=config,
            version=self.finwatt_version or finwatt_version(),
            pid=None,
            interval_s=self.interval_s,
            missed_ticks=self.missed_ticks,
            status_reason=self.status_reason,
        )


class DeviceDoc(BaseModel):
    """One device: `cpu:N`, `dram:N`, `gpu:N` or `host`, its capacity and power provenance."""

    model_config = _STRICT

    kind: Literal["cpu", "dram", "gpu", "host", "node"]
    id: str
    model: str | None = None
    logical_cores: _Cores | None = None
    mem_total_bytes: _Count | None = None
    power_limit_w: Annotated[float, Field(gt=0, le=MAX_POWER_W)] | None = None
    provenance: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "degraded", "lost"] = "ok"
    status_reason: str | None = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str, info: ValidationInfo) -> str:
        if not _DEVICE_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a device id: use cpu:N, dram:N, gpu:N, gpu:N/mig:G or host"
            )
        kind = info.data.get("kind")
        if kind is not None and value.split(":")[0] != kind:
            raise ValueError(f"{value!r} does not match kind {kind!r}")
        return value

    @field_validator("provenance")
    @classmethod
    def _check_provenance(cls, value: str | None) -> str | None:
        if value is not None and not _PROVENANCE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a provenance: use measured:<source> or estimated:<model>"
            )
        return value

    _finite_details = field_validator("details")(_finite_object)

    def record(self) -> DeviceRecord:
        """Return the device to store."""
        info = DeviceInfo(
            self.id,
            self.kind,
            model=self.model,
            logical_cores=self.logical_cores,
            mem_total_bytes=self.mem_total_bytes,
            power_limit_w=self.power_limit_w,
            provenance=self.provenance,
            details=self.details,
        )
        return DeviceRecord(info, status=self.status, status_reason=self.status_reason)


class SampleDoc(TypedDict):
    """One device's metrics at `t` seconds since `run.started`; any metric may be null.

    A `TypedDict`, not a model: millions of samples validate without a Python object
    each.
    """

    __pydantic_config__ = _STRICT  # type: ignore[misc]

    t: _Seconds
    device: str
    util: NotRequired[_Fraction | None]
    power_w: NotRequired[_Power | None]
    energy_j: NotRequired[_Energy | None]
    energy_from_power_j: NotRequired[_Energy | None]
    mem_used_bytes: NotRequired[_Count | None]
    clock_mhz: NotRequired[Annotated[float, Field(ge=0, le=1e6)] | None]
    temperature_c: NotRequired[float | None]
    sm_active: NotRequired[_Fraction | None]


class PhaseDoc(BaseModel):
    """A workload held at one target load on one device from `t_start` to `t_end` (s)."""

    model_config = _STRICT

    workload: Annotated[str, Field(min_length=1)]
    device: str
    target_load: _Fraction
    t_start: _Seconds
    t_end: _Seconds
    units: Annotated[float, Field(ge=0, le=1e18)] | None = None
    unit: str | None = None
    achieved_load: Annotated[float, Field(ge=0, le=100)] | None = None
    valid: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("t_end")
    @classmethod
    def _check_end(cls, value: float, info: ValidationInfo) -> float:
        start = info.data.get("t_start")
        if start is not None and value < start:
            raise ValueError(f"{value!r} is before t_start {start!r}")
        return value

    _finite_details = field_validator("details")(_finite_object)

    def record(self) -> PhaseRecord:
        """Return the phase to store."""
        return PhaseRecord(
            self.workload,
            self.device,
            self.target_load,
            self.t_start,
            self.t_end,
            self.units,
            self.unit,
            self.achieved_load,
            self.valid,
            PhaseMetrics.from_details(self.details),
        )


class FindingDoc(BaseModel):
    """A finding as `finwatt analyze --json` prints it (docs/design.md#findings)."""

    model_config = _STRICT

    rule: Annotated[str, Field(min_length=1)]
    device: str | None = None
    severity: Annotated[str, Field(min_length=1)]
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    recommendation: dict[str, Any] | None = None
    savings: dict[str, Any] | None = None
    confidence: str | None = None
    assumptions: list[str] = Field(default_factory=list)

    _finite_objects = field_validator("evidence", "recommendation", "savings")(_finite_object)


class RunDocument(BaseModel):
    """A whole run in the interchange format (the schema; import validates it in passes)."""

    model_config = _STRICT

    format: Literal["finwatt-run"]
    version: Literal[1]
    run: RunDoc
    devices: list[DeviceDoc]
    samples: list[SampleDoc]
    phases: list[PhaseDoc] = Field(default_factory=list)
    findings: list[FindingDoc] = Field(default_factory=list)


_ATTRIBUTED_PART = re.compile(r"attributed:[a-z][a-z0-9-]*\((?P<source>[^(),]+)\)")


def job_provenance_problem(doc: RunDocument) -> str | None:
    """Return why `run.job.provenance` is not backed by the run's devices, or None.

    An imported job must not claim a provenance its devices do not back (review 6):
    each comma-joined part must be `attributed:<method>(<source>)` and its source one of
    the devices' provenances.
    """
    job = doc.run.job
    if job is None or job.provenance is None:
        return None
    sources = {
        part.strip()
        for device in doc.devices
        for part in (device.provenance or "").split(",")
        if part.strip()
    }
    known = ", ".join(sorted(sources)) or "none"
    for part in job.provenance.split(","):
        match = _ATTRIBUTED_PART.fullmatch(part.strip())
        if match is None or match.group("source") not in sources:
            return (
                f"run.job.provenance: {part.strip()!r} is not attributed:<method>(<source>) "
                f"with a source among the devices' provenances ({known})"
            )
    return None


def _instant(text: str) -> datetime:
    return parse_iso(text)


# --- records -> exported objects ---------------------------------------------------------


def run_object(run: RunRecord) -> dict[str, Any]:
    """Return the document's `run` object for a stored run."""
    return {
        "id": run.id,
        "kind": run.kind,
        "label": run.label,
        "host": run.host,
        "started": run.started_iso,
        "ended": run.ended_iso,
        "status": run.status,
        # Only where recorded, so a document without one exports as it was imported.
        **({"status_reason": run.status_reason} if run.status_reason is not None else {}),
        "interval_s": run.interval_s,
        "missed_ticks": run.missed_ticks,
        "finwatt_version": run.version,
        # The import note describes this database's copy, not the run: leave it out so
        # it never accumulates across round trips.
        "config": {k: v for k, v in run.config.items() if k != IMPORT_NOTE_KEY},
    }


def job_object(job: JobRecord) -> dict[str, Any]:
    """Return the `run.job` object for a job run's stored row (every field but `run_id`)."""
    return {name: getattr(job, name) for name in JobDoc.model_fields}


def device_object(record: DeviceRecord) -> dict[str, Any]:
    """Return a `devices[]` object for a stored device."""
    d = record.info
    return {
        "id": d.device_id,
        **d.described(),
        "details": d.details,
        "status": record.status,
        "status_reason": record.status_reason,
    }


def phase_object(p: PhaseRecord) -> dict[str, Any]:
    """Return a `phases[]` object for a stored phase."""
    return {
        "workload": p.workload,
        "device": p.device_id,
        "target_load": p.target_load,
        "t_start": p.t_start,
        "t_end": p.t_end,
        "units": p.units,
        "unit": p.unit,
        "achieved_load": p.achieved_load,
        "valid": p.valid,
        "details": p.metrics.as_details(),
    }

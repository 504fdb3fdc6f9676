"""Per-GPU running state of the NVML family: fields, cadence, energy baselines, MIG instances.

`family.NvmlSensors` decides what to read and when; this module holds what it remembers
between ticks (`GpuState`, `MigState`), what one tick's calls returned (`RawTick`), and
the arithmetic on it: slow fields held between their 1-Hz reads, the power trapezoid and
the data-quality figure `energy_disagreement`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.samples import Reading
from profiler.sensors.nvml.deadline import DeadlineCaller
from profiler.sensors.nvml.fields import PowerSource
from profiler.sensors.nvml.gpm import SOURCE as GPM_SOURCE
from profiler.sensors.nvml.gpm import GpmSmActivity
from profiler.sensors.nvml.library import NvmlError, NvmlFailure, NvmlLibrary
from profiler.sensors.nvml.mig import MigInstance

# Per-tick fields, each backed by NVML calls and degrading on its own.
POWER = "power"
ENERGY = "energy"
UTIL = "util"
SM = "sm"
MEMORY = "memory"
CLOCK = "clock"
TEMPERATURE = "temperature"
TICK_FIELDS = (POWER, ENERGY, UTIL, SM, MEMORY, CLOCK, TEMPERATURE)
#: The memory in use of each MIG instance (read with the slow fields).
MIG_MEMORY = "mig_memory"
#: The SM activity of each MIG instance (GPM per GPU instance, independent of the parent's).
MIG_SM = "mig_sm"

#: Fields that change slowly (thermal time constants of seconds; allocations) and are
#: read at most once per `SLOW_FIELD_PERIOD_S`; ticks in between repeat the last value.
SLOW_FIELDS = frozenset({MEMORY, TEMPERATURE, MIG_MEMORY})
SLOW_FIELD_PERIOD_S = 1.0


def energy_disagreement(counter_j: float | None, power_j: float | None) -> float | None:
    """Return the relative difference of integrated-power energy from counter energy.

    The data-quality figure of docs/methodology.md#nvml: `(power_j - counter_j) / counter_j`,
    so -0.43 means integrating NVML's power readings gave 43% less energy than the
    energy counter over the same window (ml-energy/zeus#181 saw 187 J vs 327 J over 5 s).

    Args:
        counter_j: energy of a window from the NVML energy counter, in joules.
        power_j: energy of the same window from integrated power readings, in joules.

    Returns:
        The signed relative difference, or None when either figure is missing or the
        counter energy is not positive (nothing to compare against).

    """
    if counter_j is None or power_j is None or counter_j <= 0.0:
        return None
    return (power_j - counter_j) / counter_j


@dataclass
class RawTick:
    """What one tick's NVML calls for one GPU returned (built on its worker thread).

    Attributes:
        values: field name -> value read.
        errors: field name -> the error of a field that failed (not lost).
        lost: the error that says the GPU is lost, if any (reading stopped there).
        mig: MIG device id -> field name -> value read.
        mig_errors: MIG device id -> field name -> the error of a field that failed.

    """

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, NvmlError] = field(default_factory=dict)
    lost: NvmlError | None = None
    mig: dict[str, dict[str, Any]] = field(default_factory=dict)
    mig_errors: dict[str, dict[str, NvmlError]] = field(default_factory=dict)


@dataclass
class MigState:
    """One MIG GPU instance, device `gpu:N/mig:G`: memory and SM activity, no power."""

    instance: MigInstance
    info: DeviceInfo
    parent_handle: Any
    gpm_supported: bool
    gpm: GpmSmActivity | None = None
    held_memory: int | None = None

    @property
    def device_id(self) -> str:
        """`gpu:N/mig:G`."""
        return self.info.device_id

    @classmethod
    def probed(cls, parent: GpuState, instance: MigInstance, *, gpm: bool) -> MigState:
        """Describe a GPU instance of `parent`; `gpm` when GPM samples it per instance."""
        details: dict[str, Any] = {
            "mig": {
                "parent": parent.device_id,
                "gpu_instance_id": instance.gpu_instance_id,
                "compute_instance_ids": list(instance.compute_instance_ids),
            },
            "uuid": instance.uuids[0],
            "power": f"none of its own: NVML measures the whole GPU only ({parent.device_id})",
            "sm_active_source": f"{GPM_SOURCE} per GPU instance" if gpm else None,
        }
        if len(instance.uuids) > 1:
            details["uuids"] = list(instance.uuids)
        info = DeviceInfo(
            device_id=f"{parent.device_id}/mig:{instance.gpu_instance_id}",
            kind="gpu",
            model=instance.name,
            mem_total_bytes=instance.mem_total_bytes,
            provenance=None,
            details=details,
        )
        return cls(instance, info, parent.handle, gpm)

    def query(
        self, lib: NvmlLibrary, names: set[str], t_mono: float
    ) -> tuple[dict[str, Any], dict[str, NvmlError]]:
        """Read this instance's due fields: (values, errors). Raises only when it is lost."""
        reads: list[tuple[str, Callable[[], Any]]] = []
        if MIG_MEMORY in names:
            handle = self.instance.handle
            reads.append(
                (MIG_MEMORY, lambda: int(lib.call("nvmlDeviceGetMemoryInfo", handle).used))
            )
        if MIG_SM in names and self.gpm_supported:
            if self.gpm is None:
                self.gpm = GpmSmActivity(lib, self.parent_handle, self.instance.gpu_instance_id)
            gpm = self.gpm
            reads.append((SM, lambda: gpm.read(t_mono)))
        values: dict[str, Any] = {}
        errors: dict[str, NvmlError] = {}
        for name, read in reads:
            try:
                values[name] = read()
            except NvmlError as err:
                if err.failure is NvmlFailure.LOST:
                    raise
                if name == SM and err.failure is NvmlFailure.UNSUPPORTED:
                    self.gpm_supported = False  # not asked again this run
                errors[name] = err
        return values, errors

    def reading(self, raw: RawTick, parent_status: DeviceStatus) -> Reading:
        """This instance's reading: utilisation stays unknown (NVML has none under MIG)."""
        values = raw.mig.get(self.device_id, {})
        errors = raw.mig_errors.get(self.device_id, {})
        if MIG_MEMORY in values:
            self.held_memory = values[MIG_MEMORY]
        elif MIG_MEMORY in errors:
            self.held_memory = None
        status = parent_status
        if errors and status is DeviceStatus.OK:
            status = DeviceStatus.DEGRADED
        return Reading(
            self.device_id,
            mem_used_bytes=self.held_memory,
            sm_active=values.get(SM),
            status=status,
        )


@dataclass
class GpuState:
    """One probed GPU and its running state during a run."""

    index: int
    handle: Any
    info: DeviceInfo
    fields: set[str]
    deadline: DeadlineCaller
    power_source: PowerSource = PowerSource.INSTANT
    gpm: GpmSmActivity | None = None
    migs: list[MigState] = field(default_factory=list)
    status: DeviceStatus = DeviceStatus.OK
    counter_baseline_mj: int | None = None
    counter_prev: tuple[float, float] | None = None  # (t_mono, energy_j) for dE/dt
    power_prev: tuple[float, float] | None = None  # (t_mono, power_w) for the trapezoid
    energy_from_power_j: float = 0.0
    counter_resets: int = 0
    failed_ticks: int = 0
    held: dict[str, Any] = field(default_factory=dict)  # slow field -> last value
    slow_read_at: dict[str, float] = field(default_factory=dict)  # slow field -> t_mono
    logged: set[str] = field(default_factory=set)

    @property
    def device_id(self) -> str:
        """`gpu:N`, N the NVML index."""
        return f"gpu:{self.index}"

    @property
    def counter_in_use(self) -> bool:
        """True when this run's energy comes from the counter (a baseline was taken)."""
        return ENERGY in self.fields and self.counter_baseline_mj is not None

    def restart(self) -> None:
        """Forget everything a previous `start()` measured."""
        self.counter_baseline_mj = None
        self.counter_prev = None
        self.power_prev = None
        self.energy_from_power_j = 0.0
        self.failed_ticks = 0
        self.held.clear()
        self.slow_read_at.clear()
        for gpm in self._gpms():
            gpm.reset()

    def due(self, t_mono: float) -> set[str]:
        """The fields to read at `t_mono`: every tick field, slow ones once a second."""
        fields = set(self.fields)
        if self.migs:
            fields |= {MIG_MEMORY, MIG_SM}
        return {
            name
            for name in fields
            if name not in SLOW_FIELDS
            or t_mono - self.slow_read_at.get(name, -SLOW_FIELD_PERIOD_S) >= SLOW_FIELD_PERIOD_S
            or name not in self.held
        }

    def hold_slow(self, raw: RawTick, t_mono: float) -> dict[str, Any]:
        """Return this tick's values with the slow fields not read now taken from the last read."""
        values = dict(raw.values)
        for name in SLOW_FIELDS & self.fields:
            if name in raw.values:
                self.held[name] = raw.values[name]
                self.slow_read_at[name] = t_mono
            elif name in self.held and name not in raw.errors:
                values[name] = self.held[name]
        if any(MIG_MEMORY in v for v in raw.mig.values()):
            self.held[MIG_MEMORY] = True
            self.slow_read_at[MIG_MEMORY] = t_mono
        return values

    def forget_slow(self, name: str) -> None:
        """Drop a slow field's held value so that it is read again on the next tick."""
        self.held.pop(name, None)
        self.slow_read_at.pop(name, None)

    def reading(self, values: dict[str, Any], status: DeviceStatus) -> Reading:
        """The GPU's reading from this tick's values (energy is filled in by the caller)."""
        return Reading(
            self.device_id,
            util=values.get(UTIL),
            power_w=values.get(POWER),
            mem_used_bytes=values.get(MEMORY),
            clock_mhz=values.get(CLOCK),
            temperature_c=values.get(TEMPERATURE),
            sm_active=values.get(SM),
            status=status,
        )

    def readings(self, status: DeviceStatus) -> list[Reading]:
        """All-null readings of the GPU and its MIG instances, with `status`."""
        return [Reading(self.device_id, status=status)] + [
            Reading(m.device_id, status=status) for m in self.migs
        ]

    def integrate_power(self, t_mono: float, power_w: float | None) -> float | None:
        """Add the trapezoid from the last power reading; None when there is no reading now."""
        if power_w is None:
            return None
        if self.power_prev is not None:
            t_prev, p_prev = self.power_prev
            self.energy_from_power_j += (p_prev + power_w) / 2.0 * max(0.0, t_mono - t_prev)
        self.power_prev = (t_mono, power_w)
        return self.energy_from_power_j

    def counter_energy(
        self, t_mono: float, counter_mj: int | None, reading: Reading
    ) -> float | None:
        """Energy since start from the counter; fills power_w by dE/dt when power is absent.

        A counter that goes backwards is rebased and counted in `counter_resets`: the run's
        energy goes on from where it was, and this one interval's energy is unknown (None,
        the reading DEGRADED), never negative.
        """
        if counter_mj is None or self.counter_baseline_mj is None:
            return None
        energy_j = (counter_mj - self.counter_baseline_mj) / 1000.0
        if self.counter_prev is not None and energy_j < self.counter_prev[1]:
            # The counter runs from driver load: going back means the driver reloaded or
            # the GPU was reset.
            e_prev = self.counter_prev[1]
            self.counter_baseline_mj = counter_mj - round(e_prev * 1000.0)
            self.counter_prev = (t_mono, e_prev)
            self.counter_resets += 1
            self.set_detail("nvml_counter_resets", self.counter_resets)
            reading.status = DeviceStatus.DEGRADED
            return None
        if reading.power_w is None and self.counter_prev is not None:
            t_prev, e_prev = self.counter_prev
            if t_mono > t_prev:
                reading.power_w = (energy_j - e_prev) / (t_mono - t_prev)
        self.counter_prev = (t_mono, energy_j)
        return energy_j

    def set_detail(self, key: str, value: Any) -> None:
        """Record a fact about the GPU in its device record's details."""
        self.info = replace(self.info, details={**self.info.details, key: value})

    def free_gpm(self) -> None:
        """Free every GPM sample buffer of the GPU and its MIG instances."""
        for gpm in self._gpms():
            gpm.close()

    def _gpms(self) -> list[GpmSmActivity]:
        gpms = [self.gpm] + [m.gpm for m in self.migs]
        return [g for g in gpms if g is not None]

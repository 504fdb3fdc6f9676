"""The sensor-family interface: probe what exists, then read it cheaply on every tick.

Every family (psutil CPU/memory, RAPL, NVML, power models) implements `SensorFamily`.
The sampler merges the partial readings of all families into one `Reading` per device per
tick: psutil gives `cpu:N` its utilisation, RAPL (or a model) gives the same device its
power and energy.

Units are in the names: `power_w`, `energy_j`, `mem_used_bytes`, `util` (0..1).
A loop on its own thread (the sampler's, the BMC poller's) runs through `start_daemon`
and ends through `stop_daemon`.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from profiler.model.device import DeviceInfo
from profiler.model.errors import FinwattRuntimeError
from profiler.model.samples import Reading


class FamilyState(enum.StrEnum):
    """What probing a sensor family found."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    NOT_READABLE = "not_readable"


class SensorError(FinwattRuntimeError):
    """A sensor could not be read; the message says which file or call and how to fix it."""


@dataclass(frozen=True)
class Availability:
    """The result of probing one sensor family, shown by `finwatt doctor`.

    Attributes:
        family: "cpu", "memory", "rapl", "nvml" or "model".
        state: found / not found / not readable.
        reason: one sentence: what was found or why not.
        fix: what the user can do to get more (None when nothing to do).

    """

    family: str
    state: FamilyState
    reason: str
    fix: str | None = None


@runtime_checkable
class SensorFamily(Protocol):
    """One family of sensors: probed once, read on every tick.

    `read` must be cheap (no blocking calls) and may raise; the sampler then marks the
    family's devices degraded and goes on. `poll_interval_s` is the longest time the
    family may go unread (RAPL counters wrap); None means any cadence is fine.
    """

    name: str

    def availability(self) -> Availability:
        """Say what the probe found and, when nothing, why and how to fix it."""
        ...

    def devices(self) -> list[DeviceInfo]:
        """Return the devices this family reports on (empty when unavailable)."""
        ...

    def start(self, t_mono: float) -> None:
        """Take baseline readings at monotonic time `t_mono` (energy counts from here)."""
        ...

    def read(self, t_mono: float) -> list[Reading]:
        """Return one partial reading per device at monotonic time `t_mono`."""
        ...

    @property
    def poll_interval_s(self) -> float | None:
        """Longest allowed gap between reads, or None."""
        ...

    def close(self) -> None:
        """Release handles (NVML shutdown)."""
        ...


class _ProbedDevice(Protocol):
    @property
    def info(self) -> DeviceInfo: ...


class Probe(Protocol):
    """What a family's one probe found: the availability verdict and the devices to read."""

    @property
    def availability(self) -> Availability:
        """Found, not found or not readable, with the reason and the fix."""
        ...

    @property
    def devices(self) -> Sequence[_ProbedDevice]:
        """The devices to read, each with its `info` record (empty when unavailable)."""
        ...


ProbeT = TypeVar("ProbeT", bound=Probe)


class ProbedFamily(Generic[ProbeT]):
    """A family that probes once, on first use (not at construction), and answers from it.

    Subclasses implement `_discover`; `availability` and `devices` are what it found.
    """

    _probed: ProbeT | None = None

    def availability(self) -> Availability:
        """Say what the probe found and, when nothing, why and how to fix it."""
        return self._probe().availability

    def devices(self) -> list[DeviceInfo]:
        """Return the devices the probe found (empty when the family is unavailable)."""
        return [device.info for device in self._probe().devices]

    def _probe(self) -> ProbeT:
        if self._probed is None:
            self._probed = self._discover()
        return self._probed

    def _discover(self) -> ProbeT:
        raise NotImplementedError


def start_daemon(target: Callable[[], None], name: str) -> threading.Thread:
    """Run `target` on a new daemon thread named `name` (a sampling or polling loop)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def stop_daemon(stop: threading.Event, thread: threading.Thread | None) -> None:
    """Set `stop`, the event the loop waits on, and wait for `thread` (None: not started)."""
    stop.set()
    if thread is not None:
        thread.join()

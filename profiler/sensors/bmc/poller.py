"""Wall power of the whole node from its BMC, polled at the BMC's cadence off the sampler.

A BMC answers in tens of milliseconds to seconds, and its figure is an average over its
own window, so finwatt never asks it on the sampler's tick: a `BmcPoller` thread polls
the source (`ipmi.IpmiSource`, `redfish.RedfishSource`) every
`max(poll_interval_s, averaging window)` seconds, with a deadline per poll, and the
sampler's `read` only takes the latest figure under a lock. A slow or dead BMC therefore
never stalls sampling: its device goes `degraded` (no figure, never a zero) once its last
good reading is older than `stale_after_s`.

Energy: each reading is held until the next one (a zero-order hold, what a BMC's
periodic average means), so cumulative `energy_j` at time t is the sum of
`power_w x held seconds` and never decreases. After a step in power the error of a
window's energy is at most one poll interval times the step (100 W stepped at a 1 s
cadence: at most 100 J).

A reading is held for at most `stale_after_s` (the limit past which it is no longer
reported). When the BMC stops answering for longer, the rest of the gap adds nothing: the
energy is carried forward unchanged (never invented), that time is missing coverage, and
the node reads `degraded` for as long as it is stale.

A figure outside the physical bounds (`model.samples.SAMPLE_BOUNDS`: `Infinity`, 1e308 W,
-5000 W) is dropped at this boundary, before it is integrated: it is counted
(`out_of_bounds`), logged once, and the node reads `degraded` (no figure) from it until
the next good figure; the time it covers adds no energy. A poll that raises anything (a
malformed answer) is a failed poll, never a dead thread.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.samples import MAX_POWER_W, Reading, in_bounds
from profiler.sensors.base import (
    Availability,
    FamilyState,
    SensorError,
    start_daemon,
    stop_daemon,
)

log = logging.getLogger(__name__)

NODE_DEVICE_ID = "node"
NODE_KIND = "node"
#: A BMC window longer than this is not waited for: its instantaneous figure is polled.
MAX_CADENCE_S = 60.0
#: Readings kept for reads at past times (the sampler reads at tick times that may trail
#: the poller by a tick or two): 4,096 polls are 3.4 min at a 50 ms period, 68 min at 1 s.
_HISTORY = 4096


@dataclass(frozen=True)
class PowerSample:
    """One answer of a BMC.

    Attributes:
        power_w: the node's power in watts.
        averaging_window_s: the window the BMC says the figure averages over (None when
            it does not say).

    """

    power_w: float
    averaging_window_s: float | None = None


@dataclass(frozen=True)
class Discovery:
    """What probing a BMC source found.

    Attributes:
        availability: found / not found / not readable, with the fix.
        provenance: `measured:ipmi-dcmi`, `measured:ipmi-sdr` or `measured:redfish`.
        first: the probe's own reading (proof that polling works).
        details: source notes for `DeviceInfo.details` (no secrets).

    """

    availability: Availability
    provenance: str | None = None
    first: PowerSample | None = None
    details: dict[str, Any] = field(default_factory=dict)


class BmcSource(Protocol):
    """A way to ask one BMC for the node's power."""

    name: str

    def discover(self) -> Discovery:
        """Probe the BMC once: is it there, readable, and what does it report."""
        ...

    def fetch(self) -> PowerSample:
        """Return the node's power now; raises `SensorError` (one line) on failure."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def cadence_s(poll_interval_s: float, window_s: float | None) -> float:
    """Return the polling period: not faster than the BMC's averaging window (capped)."""
    if window_s is None or window_s <= 0:
        return poll_interval_s
    return max(poll_interval_s, min(window_s, MAX_CADENCE_S))


class BmcPoller:
    """Poll a `BmcSource` on a daemon thread and integrate its figures into joules.

    Args:
        fetch: returns one `PowerSample` (may block up to its own deadline).
        interval_s: the polling period.
        stale_after_s: a reading older than this is not reported, and a reading is held
            (integrated into joules) for at most this long.
        clock: monotonic seconds; the sampler's clock.

    """

    def __init__(
        self,
        fetch: Callable[[], PowerSample],
        *,
        interval_s: float,
        stale_after_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.interval_s = interval_s
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Parallel lists: sample times, their power, the energy accumulated up to each.
        self._times: list[float] = []
        self._powers: list[float] = []
        self._energies: list[float] = []
        self.polls = 0
        self.failures = 0
        self.out_of_bounds = 0
        self.last_error: str | None = None

    def begin(self, t_mono: float, first: PowerSample) -> None:
        """Count energy from `t_mono` at the power `first` says (no thread)."""
        power_w = self._checked(first)
        with self._lock:
            self._times, self._powers, self._energies = [t_mono], [power_w], [0.0]

    def _checked(self, sample: PowerSample) -> float:
        """The sample's power, or NaN (no figure) when outside the physical bounds."""
        if in_bounds("power_w", sample.power_w):
            return sample.power_w
        self.out_of_bounds += 1
        if self.out_of_bounds == 1:
            log.warning(
                "BMC reading %r W is outside 0..%g W: dropped (the node goes degraded)",
                sample.power_w,
                MAX_POWER_W,
            )
        self.last_error = f"a reading of {sample.power_w!r} W is outside 0..{MAX_POWER_W:g} W"
        return math.nan

    def start(self, t_mono: float, first: PowerSample) -> None:
        """`begin`, then poll on a daemon thread."""
        self.begin(t_mono, first)
        self._stop.clear()
        self._thread = start_daemon(self._run, "finwatt-bmc")

    def stop(self) -> None:
        """Stop polling and wait for an answer in flight (at most one deadline)."""
        stop_daemon(self._stop, self._thread)
        self._thread = None

    def add(self, t_mono: float, sample: PowerSample) -> None:
        """Record a reading taken at `t_mono` (the thread calls this; tests may too)."""
        power_w = self._checked(sample)
        with self._lock:
            if not self._times or t_mono <= self._times[-1]:
                return
            held_s = min(t_mono - self._times[-1], self._stale_after_s)
            held_w = 0.0 if math.isnan(self._powers[-1]) else self._powers[-1]
            self._energies.append(self._energies[-1] + held_w * held_s)
            self._times.append(t_mono)
            self._powers.append(power_w)
            if len(self._times) > _HISTORY:
                del self._times[0], self._powers[0], self._energies[0]

    def reading(self, t_mono: float) -> Reading:
        """Return the node's power and cumulative energy at `t_mono`.

        Degraded with no figures when the last good reading is older than the staleness
        limit (the BMC stopped answering), before `start`, or when `t_mono` is older than
        the readings kept (never the energy of another time).
        """
        with self._lock:
            if not self._times or t_mono - self._times[-1] > self._stale_after_s:
                return Reading(NODE_DEVICE_ID, status=DeviceStatus.DEGRADED)
            i = bisect.bisect_right(self._times, t_mono) - 1
            if i < 0 and len(self._times) >= _HISTORY:  # older than the history kept
                return Reading(NODE_DEVICE_ID, status=DeviceStatus.DEGRADED)
            i = max(i, 0)
            if math.isnan(self._powers[i]):  # an out-of-bounds figure: none at all
                return Reading(NODE_DEVICE_ID, status=DeviceStatus.DEGRADED)
            held_s = min(max(t_mono - self._times[i], 0.0), self._stale_after_s)
            energy_j = self._energies[i] + self._powers[i] * held_s
            return Reading(NODE_DEVICE_ID, power_w=self._powers[i], energy_j=energy_j)

    def _run(self) -> None:
        next_due = self._clock() + self.interval_s
        while not self._stop.wait(max(next_due - self._clock(), 0.0)):
            next_due += self.interval_s
            before = self._clock()
            try:
                sample = self._fetch()
            except Exception as err:  # noqa: BLE001 - loop boundary: a bad answer, a failed poll
                self.failures += 1
                if self.last_error is None:
                    log.warning("BMC poll failed (the node goes degraded): %s", err)
                self.last_error = str(err) or type(err).__name__
                continue
            after = self._clock()
            self.polls += 1
            self.last_error = None
            self.add((before + after) / 2, sample)
            if after > next_due:  # a poll overran the period: start again from now
                next_due = after + self.interval_s


class BmcFamily:
    """The `node` device: wall power from one BMC source, as a `SensorFamily`.

    Args:
        source: the IPMI or Redfish source.
        poll_interval_s: the shortest polling period (the BMC's window may lengthen it).
        timeout_s: the deadline of one poll (part of the staleness limit).
        clock: monotonic seconds.

    """

    def __init__(
        self,
        source: BmcSource,
        *,
        poll_interval_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = source.name
        self._source = source
        self._poll_interval_s = poll_interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._discovery: Discovery | None = None
        self._poller: BmcPoller | None = None

    def discovery(self) -> Discovery:
        """Probe the source once (on first use) and keep the answer."""
        if self._discovery is None:
            try:
                self._discovery = self._source.discover()
            except Exception as err:  # noqa: BLE001 - probe boundary: doctor, monitor, exec go on
                said = " ".join(str(err).split())[:200]
                reason = f"{self.name}: unexpected answer ({type(err).__name__}: {said})"
                self._discovery = Discovery(
                    Availability(
                        self.name, FamilyState.NOT_READABLE, reason, "check the BMC's firmware"
                    )
                )
        return self._discovery

    def availability(self) -> Availability:
        """Say whether the BMC answered with a power figure, or why not and the fix."""
        return self.discovery().availability

    @property
    def interval_s(self) -> float:
        """The polling period: `poll_interval_s`, or the BMC's window when longer."""
        first = self.discovery().first
        return cadence_s(self._poll_interval_s, first.averaging_window_s if first else None)

    def devices(self) -> list[DeviceInfo]:
        """Return the `node` device (empty when the BMC gave no figure)."""
        found = self.discovery()
        if found.availability.state is not FamilyState.FOUND or found.first is None:
            return []
        details = {
            **found.details,
            "averaging_window_s": found.first.averaging_window_s,
            "poll_interval_s": self.interval_s,
        }
        return [
            DeviceInfo(
                NODE_DEVICE_ID,
                NODE_KIND,
                model="wall power (BMC)",
                provenance=found.provenance,
                details=details,
            )
        ]

    @property
    def poll_interval_s(self) -> float | None:
        """None: the BMC is polled by its own thread, not by the sampler."""
        return None

    def start(self, t_mono: float) -> None:
        """Take a first reading (bounded by the deadline) and start the polling thread.

        Raises:
            SensorError: the BMC is unavailable or the first reading failed.

        """
        found = self.discovery()
        if found.availability.state is not FamilyState.FOUND:
            raise SensorError(f"BMC unavailable: {found.availability.reason}")
        first = self._source.fetch()
        interval_s = self.interval_s
        self._poller = BmcPoller(
            self._source.fetch,
            interval_s=interval_s,
            stale_after_s=max(3 * interval_s, interval_s + self._timeout_s),
            clock=self._clock,
        )
        self._poller.start(t_mono, first)

    def read(self, t_mono: float) -> list[Reading]:
        """Return the node's latest power and its energy since `start` (never blocks).

        Raises:
            SensorError: read before `start()`.

        """
        if self._poller is None:
            raise SensorError(f"{self.name} read before start()")
        return [self._poller.reading(t_mono)]

    def close(self) -> None:
        """Stop the polling thread and close the source's connection."""
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self._source.close()

"""Fixed-cadence sampling on the monotonic clock, in a background thread.

Tick k is due at start + k * interval (no drift from accumulated sleep error). A tick
that runs late is recorded late with its true time, never skipped silently; when the
sampler falls more than one interval behind, the skipped slots are counted in
`missed_ticks`. Between ticks, families that declare `poll_interval_s` (RAPL counters
wrap) are read often enough that no wrap is missed, whatever the display interval.

A family whose read raises is logged once, its devices are marked degraded for that
tick (metrics null, never zero), and sampling goes on. A metric outside its physical
bounds (`model.samples.SAMPLE_BOUNDS`: an infinite or negative power, whichever family
read it) is dropped the same way, counted in `out_of_bounds` and logged once per device.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence

from profiler.model.device import DeviceStatus
from profiler.model.durations import check_interval
from profiler.model.samples import Reading, Tick, TickSink
from profiler.sensors.base import SensorFamily, start_daemon, stop_daemon

log = logging.getLogger(__name__)

SHORT_WAIT_S = 0.25


class Clock:
    """The real monotonic clock; `wait` returns True when `stop` was set."""

    def now(self) -> float:
        """Return monotonic seconds."""
        return time.monotonic()

    def wait(self, stop: threading.Event, timeout_s: float) -> bool:
        """Sleep up to `timeout_s` seconds; return True when `stop` is set.

        Short waits are a plain sleep (about half the CPU cost of an Event wait per
        wake-up on Linux, which matters at 10-20 Hz); long ones wait on the event so that
        `stop()` is prompt whatever the interval.
        """
        if timeout_s <= SHORT_WAIT_S:
            time.sleep(max(0.0, timeout_s))
            return stop.is_set()
        return stop.wait(timeout_s)


class Sampler:
    """Reads every sensor family each tick and hands merged readings to sinks.

    Args:
        families: sensor families in read order (a power model after the utilisation
            family it uses).
        devices: every device id to report on, so a failed family still yields a
            (degraded, all-null) reading for its devices.
        interval_s: tick period in seconds (0.05 to 60).
        sinks: callables receiving each `Tick` on the sampler thread; keep them cheap.
        clock: time source; tests pass a fake clock.

    """

    def __init__(
        self,
        families: Sequence[SensorFamily],
        devices: dict[str, list[str]],
        interval_s: float,
        sinks: Sequence[TickSink] = (),
        *,
        clock: Clock | None = None,
    ) -> None:
        self.interval_s = check_interval(interval_s)
        self._families = list(families)
        self._family_devices = devices
        self._sinks = list(sinks)
        self._clock = clock or Clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: set[str] = set()
        self._pollers = [f for f in self._families if f.poll_interval_s is not None]
        self._poll_s = min((f.poll_interval_s or math.inf for f in self._pollers), default=None)
        self.t0: float | None = None
        self.ticks = 0
        self.missed_ticks = 0
        self.polls = 0
        self.last_tick: Tick | None = None
        self.out_of_bounds: dict[str, int] = {}
        """Readings dropped per device for being outside `SAMPLE_BOUNDS`."""

    # --- lifecycle ------------------------------------------------------------------

    def begin(self) -> float:
        """Take every family's baseline and return the monotonic start time."""
        self.t0 = self._clock.now()
        for family in self._families:
            try:
                family.start(self.t0)
            except Exception as err:  # noqa: BLE001 - loop boundary: log, degrade, go on
                self._family_failed(family, err)
        return self.t0

    def start(self) -> None:
        """Begin and run the loop on a daemon thread."""
        self.begin()
        self._thread = start_daemon(self.run, "finwatt-sampler")

    def stop(self) -> None:
        """Stop the loop, take one final tick (so the run ends at the stop time), join."""
        stop_daemon(self._stop, self._thread)
        self._thread = None
        if self.t0 is not None:
            self._tick(self._clock.now(), self.t0)

    # --- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Run ticks (and wrap-guard polls) until `stop()`; call `begin()` first."""
        t0 = self.t0 if self.t0 is not None else self.begin()
        next_tick = t0 + self.interval_s
        next_poll = t0 + self._poll_s if self._poll_s else math.inf
        while True:
            now = self._clock.now()
            if now >= next_tick:
                behind = int((now - next_tick) // self.interval_s)
                self.missed_ticks += behind
                self._tick(now, t0)
                next_tick += (behind + 1) * self.interval_s
                next_poll = now + self._poll_s if self._poll_s else math.inf
                continue
            if now >= next_poll:
                self._poll(now)
                next_poll = now + (self._poll_s or math.inf)
                continue
            if self._clock.wait(self._stop, min(next_tick, next_poll) - now):
                return

    def _poll(self, now: float) -> None:
        """Read wrap-prone counters between ticks; the readings themselves are dropped."""
        self.polls += 1
        for family in self._pollers:
            try:
                family.read(now)
            except Exception as err:  # noqa: BLE001 - loop boundary: log, degrade, go on
                self._family_failed(family, err)

    def _tick(self, now: float, t0: float) -> None:
        merged: dict[str, Reading] = {}
        for family in self._families:
            try:
                partials = family.read(now)
            except Exception as err:  # noqa: BLE001 - loop boundary: log, degrade, go on
                self._family_failed(family, err)
                partials = [
                    Reading(d, status=DeviceStatus.DEGRADED)
                    for d in self._family_devices.get(family.name, [])
                ]
            else:
                if family.name in self._failing:
                    log.warning("sensor family %s recovered", family.name)
                    self._failing.discard(family.name)
            for reading in partials:
                if reading.device_id in merged:
                    merged[reading.device_id].merge(reading)
                else:
                    merged[reading.device_id] = reading
        for reading in merged.values():
            dropped = reading.drop_out_of_bounds()
            if dropped:
                self._out_of_bounds(reading.device_id, dropped)
        self.ticks += 1
        tick = Tick(self.ticks, now - t0, merged, self.missed_ticks)
        self.last_tick = tick
        for sink in self._sinks:
            sink(tick)

    def _out_of_bounds(self, device_id: str, metrics: list[str]) -> None:
        count = self.out_of_bounds.get(device_id, 0)
        self.out_of_bounds[device_id] = count + 1
        if count == 0:
            log.warning(
                "device %s read %s outside physical bounds: dropped, the device is degraded",
                device_id,
                ", ".join(metrics),
            )

    def _family_failed(self, family: SensorFamily, err: BaseException) -> None:
        if family.name not in self._failing:
            log.warning("sensor family %s failed, its devices are degraded: %s", family.name, err)
            self._failing.add(family.name)

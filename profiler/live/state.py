"""What the live view shows: per-device state built from sampler ticks, and the site rates.

`LiveState.consume` runs on the sampler thread; everything else reads the state under
`LiveState.lock`. Energies are in joules, times in seconds since the sampler started.

- energy since the view started: the device's cumulative `energy_j` (the sampler starts
  with the view, so its counters start there too); None when the device has none.
- waste: energy spent in intervals whose utilisation was below `IDLE_UTIL` (5%), the
  interval (t_prev, t] charged to the utilisation read at t (psutil and NVML both report
  utilisation over the interval that just ended).
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from profiler.model.device import DeviceInfo
from profiler.model.profile_status import ProfileStatus
from profiler.model.provenance import is_estimate
from profiler.model.samples import Reading, Tick
from profiler.model.savings import Site

IDLE_UTIL = 0.05
"""Below 5% utilisation a device counts as idle for the waste panel (docs/live.md)."""

IDLE_NOTE_AFTER_S = 60.0
"""A device idle this long gets a live note; one minute is no longer a scheduling gap."""

HISTORY_S = 120.0
"""The sparkline shows the last two minutes of power."""


@dataclass(frozen=True)
class Rates:
    """Conversion factors for the totals panel, taken from a resolved `Site`.

    Attributes:
        carbon_g_per_kwh: grid carbon intensity, g CO2e per kWh.
        carbon_source: shown beside the intensity: "default" (world average), an ISO3
            country code or region, or None when the user gave the figure.
        pue: power usage effectiveness (facility power / IT power), >= 1.
        pue_given: False when `pue` is the default (the screen says so).
        price_per_kwh: tariff in the user's currency per kWh; None when not given.

    """

    carbon_g_per_kwh: float
    carbon_source: str | None
    pue: float
    pue_given: bool
    price_per_kwh: float | None = None

    @classmethod
    def from_site(cls, site: Site, *, code: str | None = None) -> Rates:
        """Build rates from resolved site factors; `code` is the country or region shown.

        The caller resolves the site (the CLI validates its options as `analyze` does);
        `Site()` gives the defaults: codecarbon's world average, PUE 1.0, no tariff.
        """
        source = "default" if site.grid_defaulted else (code or "").strip().upper() or None
        return cls(
            carbon_g_per_kwh=site.grid_g_per_kwh,
            carbon_source=source,
            pue=site.pue,
            pue_given=site.pue_given,
            price_per_kwh=site.price_per_kwh,
        )


@dataclass
class DeviceView:
    """What the view keeps for one device; energies in joules, times in seconds."""

    info: DeviceInfo
    reading: Reading | None = None
    energy_j: float | None = None
    energy_t: float | None = None
    below_s: float = 0.0
    below_energy_j: float | None = None
    idle_since_t: float | None = None
    history: deque[tuple[float, float]] = field(default_factory=deque)

    @property
    def has_power(self) -> bool:
        """True when some sensor or model gives this device power figures."""
        return self.info.provenance is not None

    @property
    def estimated(self) -> bool:
        """True when its power figures come from a model."""
        return is_estimate(self.info.provenance)


class LiveState:
    """Everything the view shows, updated by `consume` on the sampler thread.

    Args:
        devices: the devices to show, in display order.
        interval_s: the sampling interval.
        families: sensor family name -> device ids it reports on (for the header).
        rates: carbon intensity, PUE and tariff (default: `Rates.from_site(Site())`).
        host: host name shown in the header (default: this machine's).
        wall_start: wall-clock time of the sampler's start; a tick at t is shown as
            `wall_start + t` (tests pass a fixed time).
        recording_run_id: the run being stored, when `--record` is on.

    """

    def __init__(
        self,
        devices: Sequence[DeviceInfo],
        *,
        interval_s: float,
        families: Mapping[str, Sequence[str]] | None = None,
        rates: Rates | None = None,
        host: str | None = None,
        wall_start: datetime | None = None,
        recording_run_id: str | None = None,
    ) -> None:
        self.devices = {d.device_id: DeviceView(d) for d in devices}
        self.interval_s = interval_s
        self.families = {name: list(ids) for name, ids in (families or {}).items()}
        self.rates = rates or Rates.from_site(Site())
        self.host = host or socket.gethostname()
        self.wall_start = wall_start or datetime.now().astimezone()
        self.recording_run_id = recording_run_id
        self.ticks = 0
        self.last_t: float | None = None
        self.missed_ticks = 0
        self.profile: ProfileStatus | None = None
        self.lock = threading.RLock()
        self._ticked = threading.Condition(self.lock)
        #: Set on every change; the refresh thread waits on it.
        self.changed = threading.Event()

    def consume(self, tick: Tick) -> None:
        """Take one sampler tick (a `TickSink`): update energy, waste and history."""
        with self.lock:
            prev_t = self.last_t if self.last_t is not None else 0.0
            for device_id, reading in tick.readings.items():
                view = self.devices.get(device_id)
                if view is None:
                    view = self.devices[device_id] = DeviceView(DeviceInfo(device_id, "unknown"))
                _update_device(view, reading, prev_t, tick.t)
            self.ticks += 1
            self.last_t = tick.t
            self.missed_ticks = tick.missed_ticks
            self._ticked.notify_all()
        self.changed.set()

    def set_profile(self, profile: ProfileStatus | None) -> None:
        """Replace the profiling-run panel's contents."""
        with self.lock:
            changed = profile != self.profile
            self.profile = profile
        if changed:
            self.changed.set()

    def wait_ticks(self, n: int, timeout_s: float) -> bool:
        """Block until `n` ticks were consumed or `timeout_s` passed; True when they were."""
        with self._ticked:
            return self._ticked.wait_for(lambda: self.ticks >= n, timeout_s)


def _update_device(view: DeviceView, reading: Reading, prev_t: float, t: float) -> None:
    had_energy_at_prev = view.energy_t == prev_t or (view.energy_t is None and view.has_power)
    before_j = view.energy_j if view.energy_j is not None else 0.0
    delta_j: float | None = None
    if reading.energy_j is not None:
        if had_energy_at_prev:
            delta_j = reading.energy_j - before_j
        view.energy_j = reading.energy_j
        view.energy_t = t
    util = reading.util
    if util is not None and util < IDLE_UTIL:
        view.below_s += t - prev_t
        if view.idle_since_t is None:
            view.idle_since_t = prev_t
        if delta_j is not None:
            view.below_energy_j = (view.below_energy_j or 0.0) + delta_j
    else:
        view.idle_since_t = None
    if delta_j is not None and view.below_energy_j is None:
        view.below_energy_j = 0.0
    if reading.power_w is not None:
        view.history.append((t, reading.power_w))
    while view.history and view.history[0][0] < t - HISTORY_S:
        view.history.popleft()
    view.reading = reading

"""The findings that see time, for one host's window: what `assess_usage` runs with a clock; pure.

Given the site's clock (`LocalClock`: the zone, and where each entry's interval lies on
the time axis), a window yields:

- the host's `PEAK_SIZED_HOST` or `OFF_HOURS_IDLE` (`demand_rules.schedule_finding` on
  the host's demand profile), its idle power the mean **measured** power of its CPU
  package and DRAM devices in the host's idle hours of the week (else the labelled
  fallback the caller passes: a ladder's active idle or the power model);
- each GPU's `PEAK_SIZED_GPU` (its activity: SM activity, else utilisation, busy at the
  IDLE_GPU bound; idle power the GPU's own measured power in its idle hours);
- the host's hot windows (`demand.hot_windows` at 1 - `under_cpu_headroom`), which make
  `UNDER_PROVISIONED_CPU` window-aware.

Where an entry sits: a raw sample observes the interval before it; a minute rollup is
placed at its minute's start and its `interval_s` is the seconds its energy covers
(`profiler.model.series`). The demand profile places an entry at `t - interval / 2`,
weighted by `interval`, so the caller, which knows what it read, passes for each minute
rollup a view with `t` and `interval_s` the samples' own (`LocalClock.views`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from profiler.analysis.confidence import Quality, history_tier, power_tier
from profiler.analysis.demand import (
    DemandProfile,
    HotWindows,
    hot_windows,
    observed_seconds,
    profile_demand,
)
from profiler.analysis.demand_rules import schedule_finding
from profiler.analysis.host_rules import IdlePower
from profiler.analysis.power_schedule import known_idle
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.usage import UsageStats
from profiler.analysis.week import local_seconds
from profiler.model.findings import Finding
from profiler.model.provenance import is_measured
from profiler.model.savings import Estimate, Site
from profiler.model.series import DeviceSeries, FloatArray


@dataclass(frozen=True)
class LocalClock:
    """The site's wall clock for one window.

    Attributes:
        tz: the IANA zone name (`[defaults] tz`).
        zone: that zone.
        views: device id -> the device's demand view: its entries with `t` at the end of
            the interval each observed and `interval_s` that interval (what a raw sample
            is already; the caller builds one for minute rollups). A device without one
            is its own view.
    """

    tz: str
    zone: ZoneInfo
    views: Mapping[str, DeviceSeries] = field(default_factory=dict)
    _seen: dict[bytes, FloatArray] = field(default_factory=dict, compare=False, repr=False)

    def view(self, series: DeviceSeries) -> DeviceSeries:
        """Return the device's demand view (see `views`)."""
        return self.views.get(series.spec.device_id, series)

    def local(self, view: DeviceSeries) -> FloatArray:
        """Return the local wall-clock seconds of the middle of each entry's interval.

        Devices sampled at the same times (a host's devices; a fleet's hourly rows) share
        one zone look-up: the result is kept per set of middles.
        """
        middles = view.t - observed_seconds(view) / 2.0
        key = hashlib.blake2b(middles.tobytes(), digest_size=16).digest()
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = local_seconds(middles, self.zone)
        return found


def gpu_activity(series: DeviceSeries) -> FloatArray:
    """Return a GPU's activity per entry: SM activity where known, else utilisation."""
    activity: FloatArray = np.where(np.isnan(series.sm_active), series.util, series.sm_active)
    return activity


def gpu_profile(series: DeviceSeries, clock: LocalClock, thresholds: Thresholds) -> DemandProfile:
    """Return a GPU's demand profile: its activity, busy at the IDLE_GPU bound."""
    view = clock.view(series)
    return profile_demand(
        view,
        clock.local(view),
        thresholds,
        util=gpu_activity(view),
        busy_level=thresholds.demand_busy_gpu,
    )


def host_hot_windows(host: DeviceSeries, clock: LocalClock, thresholds: Thresholds) -> HotWindows:
    """Return the recurring windows where the host's hourly peak reaches 1 - headroom."""
    level = 1.0 - thresholds.under_cpu_headroom
    view = clock.view(host)
    return hot_windows(view, clock.local(view), level, thresholds)


def measured_host_idle(
    profile: DemandProfile,
    power_devices: Sequence[DeviceSeries],
    clock: LocalClock,
    thresholds: Thresholds,
) -> IdlePower | None:
    """Return the summed mean power of measured power devices in the host's idle hours.

    Each device's mean power per weekday x hour cell is averaged over the host's idle
    cells (weighted by the host's observed time); None unless every device is measured
    and has power in those cells.
    """
    cells = known_idle(profile, thresholds)
    if not power_devices or not cells.any():
        return None
    if not all(is_measured(d.spec.provenance) for d in power_devices):
        return None
    total = 0.0
    for device in power_devices:
        view = clock.view(device)
        power = profile_demand(view, clock.local(view), thresholds).power_mean_w
        ok = cells & ~np.isnan(power)
        weights = profile.observed_share[ok]
        if not ok.any() or weights.sum() <= 0:
            return None
        total += float(np.average(power[ok], weights=weights))
    ids = ", ".join(d.spec.device_id for d in power_devices)
    label = f"mean measured power of {ids} in the host's {int(cells.sum())} idle hours of the week"
    return IdlePower(Estimate(total, total, total), "measured", label)


def _quality(
    device: DeviceSeries,
    power_from: Sequence[str | None],
    stats: UsageStats,
    site: Site,
    notes: tuple[str, ...],
    thresholds: Thresholds,
) -> Quality:
    return Quality(
        power=power_tier(power_from),
        history=history_tier(stats, thresholds),
        site_defaulted=site.defaulted,
        gpu_util_fallback=device.spec.kind == "gpu" and stats.sm_mean is None,
        notes=notes,
    )


@dataclass(frozen=True)
class WindowDevices:
    """The devices of one host's window the findings read, and what they share.

    Attributes:
        host: the host's series (None: no host subject).
        gpus: the GPUs' series.
        power_devices: the host's CPU package and DRAM devices with power figures.
        usage: device id -> usage statistics (a device not eligible gets no finding).
        notes: assumption lines every finding of the window carries.
    """

    host: DeviceSeries | None
    gpus: Sequence[DeviceSeries]
    power_devices: Sequence[DeviceSeries]
    usage: Mapping[str, UsageStats]
    notes: tuple[str, ...] = ()


def time_findings(
    window: WindowDevices,
    clock: LocalClock,
    fallback: IdlePower | None,
    site: Site,
    thresholds: Thresholds,
) -> list[Finding]:
    """Return the window's schedule findings (PEAK_SIZED_HOST, OFF_HOURS_IDLE, PEAK_SIZED_GPU).

    Args:
        window: the host, its GPUs and power devices, their usage and notes.
        clock: the site's zone and the devices' demand views.
        fallback: the host's labelled idle power where none is measured (a ladder's
            active idle, or the power model), None when unknown; a whole-window mean of
            measured power is not idle power and is not used.
        site: PUE, grid and tariff.
        thresholds: `demand_*`, `schedule_*`, `peak_sized_max_share`, eligibility.
    """
    findings: list[Finding] = []
    host = window.host
    stats = window.usage.get(host.spec.device_id) if host is not None else None
    if host is not None and stats is not None and stats.eligible(thresholds):
        view = clock.view(host)
        profile = profile_demand(view, clock.local(view), thresholds)
        measured = measured_host_idle(profile, window.power_devices, clock, thresholds)
        idle = measured or (fallback if fallback and fallback.source != "measured" else None)
        power_from = [d.spec.provenance for d in window.power_devices]
        quality = _quality(host, power_from, stats, site, window.notes, thresholds)
        finding = schedule_finding(profile, clock.tz, None, idle, site, quality, thresholds)
        findings.extend([finding] if finding else [])
    for gpu in window.gpus:
        gpu_stats = window.usage.get(gpu.spec.device_id)
        if gpu_stats is None or not gpu_stats.eligible(thresholds):
            continue
        quality = _quality(gpu, [gpu.spec.provenance], gpu_stats, site, window.notes, thresholds)
        finding = schedule_finding(
            gpu_profile(gpu, clock, thresholds),
            clock.tz,
            gpu.spec.provenance,
            None,
            site,
            quality,
            thresholds,
            "gpu",
        )
        findings.extend([finding] if finding else [])
    return findings

"""Synthetic 5-minute series for the demand tests: busy windows on an idle host, in local time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from profiler.model.device import DeviceInfo
from profiler.model.series import DeviceSeries

STEP_S = 300.0
LONDON = ZoneInfo("Europe/London")
UTC_ZONE = ZoneInfo("UTC")
# Monday 2 November 2026 00:00 UTC: no DST change in the four weeks after it in London
START = datetime(2026, 11, 2, tzinfo=UTC_ZONE).timestamp()

Busy = Callable[[int, int, int], bool]
"""(weekday 0 = Monday, local hour, week number from 0) -> busy in that hour."""


def sample_times(weeks: float, start: float = START) -> np.ndarray:
    """Return 5-min sample times over `weeks` weeks from `start` (epoch seconds)."""
    return start + STEP_S * np.arange(1, int(weeks * 7 * 288) + 1)


def series(
    device_id: str,
    t: np.ndarray,
    util: np.ndarray,
    power_w: np.ndarray | None = None,
    kind: str = "host",
    provenance: str | None = "measured:rapl",
    cores: int | None = 4,
) -> DeviceSeries:
    """Return a DeviceSeries of 5-min samples (power NaN when not given)."""
    nan = np.full(t.size, np.nan)
    power = nan if power_w is None else power_w
    return DeviceSeries(
        spec=DeviceInfo(device_id, kind, logical_cores=cores, provenance=provenance),
        t=t,
        util=util,
        power_w=power,
        energy_delta_j=power * STEP_S,
        mem_used_bytes=nan,
        sm_active=nan,
        interval_s=np.full(t.size, STEP_S),
    )


def local_util(
    t: np.ndarray, tz: ZoneInfo, busy: Busy, busy_util: float, idle_util: float, seed: int = 1
) -> np.ndarray:
    """Return utilisation: `busy_util` in the local hours `busy` names, else `idle_util`.

    Each sample stands for the 5 minutes before it, so its hour is that of t - 1 s. The
    idle level carries +-0.3 points of noise (a real idle host is never flat).
    """
    rng = np.random.default_rng(seed)
    util = np.empty(t.size)
    first_week = None
    for i, moment in enumerate(t):
        local = datetime.fromtimestamp(moment - 1.0, tz)
        week = local.isocalendar()[1]
        first_week = week if first_week is None else first_week
        hot = busy(local.weekday(), local.hour, (week - first_week) % 53)
        util[i] = busy_util if hot else idle_util
    return util + rng.uniform(-0.003, 0.003, t.size)


def power_of(util: np.ndarray, idle_w: float, max_w: float) -> np.ndarray:
    """Return a linear power model's watts at each utilisation."""
    return idle_w + (max_w - idle_w) * np.clip(util, 0.0, 1.0)

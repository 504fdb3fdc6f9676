"""The worked examples of docs/methodology.md as arrays, shared by the tests."""

from __future__ import annotations

import numpy as np

from profiler.model.device import DeviceInfo
from profiler.model.savings import Site
from profiler.model.series import DeviceSeries, device_series
from profiler.model.units import DAY_S, GIB

HALF_HOUR_S = 1800.0


def given_site(grid_g_per_kwh: float, grid_label: str, price_per_kwh: float) -> Site:
    """Return a site at PUE 1.5 (given) with this grid intensity and tariff."""
    return Site(
        pue=1.5,
        pue_given=True,
        grid_g_per_kwh=grid_g_per_kwh,
        grid_label=grid_label,
        grid_defaulted=False,
        price_per_kwh=price_per_kwh,
    )


def idle_host_with(device: DeviceInfo, watts: float) -> list[DeviceSeries]:
    """Return the idle host of section 6 and `device` drawing a steady `watts` beside it."""
    t, util = idle_host_util()
    host = device_series(DeviceInfo("host", "host", logical_cores=16), t, util=util)
    other = device_series(device, t, power_w=np.full(t.size, watts), energy_j=watts * t)
    return [host, other]


def idle_host_util() -> tuple[np.ndarray, np.ndarray]:
    """Section 6: 7 days of 30-min windows at 1.0%, ten 20% spikes on days 1-3."""
    t = np.arange(0.0, 7 * DAY_S, HALF_HOUR_S)
    util = np.full(t.size, 0.01)
    util[np.arange(10, 140, 13)] = 0.20  # ten windows, all before the end of day 3
    assert (t[util > 0.01] < 3 * DAY_S).all() and (util > 0.01).sum() == 10
    return t, util


def oversized_cpu_util() -> tuple[np.ndarray, np.ndarray]:
    """Section 6: 64 cores, 14 days of 5-min data: 3,000 at 5%, 1,011 at 15%, 21 at 18.75%."""
    util = np.concatenate([np.full(3000, 0.05), np.full(1011, 0.15), np.full(21, 0.1875)])
    rng = np.random.default_rng(7)
    rng.shuffle(util)
    t = np.arange(util.size) * 300.0
    return t, util


def eight_gpus() -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Section 6: 8 GPUs over 7 days at 1-min resolution."""
    t = np.arange(0.0, 7 * DAY_S, 60.0)
    n = t.size
    gpus: dict[str, dict[str, np.ndarray]] = {}
    for i in range(8):
        gpus[f"gpu:{i}"] = {
            "util": np.full(n, 0.85),
            "sm_active": np.full(n, 0.85),
            "mem_used_bytes": np.full(n, 20.0 * GIB),
            "power_w": np.full(n, 400.0),
        }
    gpus["gpu:3"] = {
        "util": np.zeros(n),
        "sm_active": np.zeros(n),
        "mem_used_bytes": np.zeros(n),
        "power_w": np.full(n, 70.0),
    }
    gpus["gpu:5"] = {
        "util": np.zeros(n),
        "sm_active": np.zeros(n),
        "mem_used_bytes": np.full(n, 30.0 * GIB),
        "power_w": np.full(n, 90.0),
    }
    return t, gpus

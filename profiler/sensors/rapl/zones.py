"""Powercap zones: the counter arithmetic and the records RAPL discovery builds.

Pure parts of `profiler.sensors.rapl.powercap` (which reads the files): the wrap-safe counter
delta and the wrap-or-reset decision, the zone and device records, and the naming rules
of powercap's directories (`intel-rapl:0`, `intel-rapl:0:1`, `package-0-die-1`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from profiler.model.device import DeviceInfo
from profiler.sensors.base import Availability

#: Power assumed for a zone without `constraint_0_max_power_uw` when sizing the poll
#: interval; above the TDP of any current server package, so the interval errs short.
CONSERVATIVE_MAX_POWER_W = 500.0

ZONE_DIR = re.compile(r"^(?P<prefix>intel-rapl|amd-rapl):(?P<zone>\d+)(?::(?P<sub>\d+))?$")
PACKAGE_NAME = re.compile(r"^package-(?P<pkg>\d+)(?:-die-(?P<die>\d+))?$")
UJ_PER_J = 1_000_000
UW_PER_W = 1_000_000


def counter_delta_uj(prev_uj: int, now_uj: int, max_energy_range_uj: int) -> int:
    """Return the counter advance in µJ from `prev_uj` to `now_uj`, across at most one wrap.

    The counter runs 0..max_energy_range_uj and then restarts at 0, so the advance is
    `(now - prev) mod (max_range + 1)` (docs/methodology.md#rapl); never negative.

    Raises:
        ValueError: a value lies outside 0..max_energy_range_uj, so no wrap correction
            can be right.

    """
    if max_energy_range_uj <= 0:
        raise ValueError(f"max_energy_range_uj must be positive, got {max_energy_range_uj}")
    for value in (prev_uj, now_uj):
        if not 0 <= value <= max_energy_range_uj:
            raise ValueError(
                f"counter value {value} outside 0..{max_energy_range_uj} (max_energy_range_uj)"
            )
    return (now_uj - prev_uj) % (max_energy_range_uj + 1)


WRAP_PLAUSIBLE_FACTOR = 2.0
"""A counter that went down wrapped only if the power the wrap implies is at most this
multiple of the zone's power ceiling (its maximum or limit, else
`CONSERVATIVE_MAX_POWER_W`); otherwise it was reset (reboot, driver reload, firmware) and
the interval's energy is unknown."""


def wrap_or_reset_uj(
    prev_uj: int,
    now_uj: int,
    max_energy_range_uj: int,
    seconds: float,
    ceiling_w: float,
) -> int | None:
    """Return the counter advance over `seconds`, or None when the counter was reset.

    An increase is an advance. A decrease is a wrap when the advance it implies,
    `counter_delta_uj`, is a power of at most `WRAP_PLAUSIBLE_FACTOR` x `ceiling_w` over
    the interval; a larger one (a 262 kJ "wrap" in one second on a 5 W part) is a reset.

    Raises:
        ValueError: as `counter_delta_uj`.

    """
    delta_uj = counter_delta_uj(prev_uj, now_uj, max_energy_range_uj)
    if now_uj >= prev_uj:
        return delta_uj
    if seconds <= 0:
        return None
    implied_w = delta_uj / UJ_PER_J / seconds
    return delta_uj if implied_w <= WRAP_PLAUSIBLE_FACTOR * ceiling_w else None


@dataclass
class Zone:
    """One powercap zone that is read: its files, range and running state."""

    zone_id: str
    path: Path
    name: str
    max_energy_range_uj: int
    max_power_uw: int | None
    power_limit_uw: int | None
    prev_uj: int | None = None
    t_prev: float | None = None
    total_uj: int = 0
    resets: int = 0

    @property
    def energy_path(self) -> Path:
        """The zone's cumulative counter file."""
        return self.path / "energy_uj"

    @property
    def ceiling_w(self) -> float:
        """The most power the zone can draw: its maximum, else its limit, else 500 W."""
        power_uw = self.max_power_uw or self.power_limit_uw
        return power_uw / UW_PER_W if power_uw else CONSERVATIVE_MAX_POWER_W

    @property
    def wrap_period_s(self) -> float:
        """Seconds in which the counter can traverse its whole range at maximum power."""
        power_uw = self.max_power_uw or CONSERVATIVE_MAX_POWER_W * UW_PER_W
        return self.max_energy_range_uj / power_uw


@dataclass
class RaplDevice:
    """One reported device (`cpu:P` or `dram:P`) and the zones whose energy it sums."""

    info: DeviceInfo
    zones: list[Zone]
    prev_total_uj: int | None = None
    t_prev: float | None = None


@dataclass
class RaplProbe:
    """What discovery found: the availability verdict and the devices to read."""

    availability: Availability
    devices: list[RaplDevice] = field(default_factory=list)


@dataclass
class ZoneCandidate:
    """A zone directory found under powercap, before it is read."""

    zone_id: str
    path: Path
    name: str
    parent_id: str | None


def is_package(name: str) -> bool:
    """Return True when a zone's `name` is a CPU package (`package-0`, `package-0-die-1`)."""
    return PACKAGE_NAME.match(name) is not None


def package_number(zone: Zone) -> int:
    """Return the package a zone belongs to: from its name, else its directory number."""
    match = PACKAGE_NAME.match(zone.name)
    if match is not None:
        return int(match["pkg"])
    return int(zone.zone_id.split(":")[1])


def zone_sort_key(zone_id: str) -> tuple[str, int, int]:
    """Sort zones by prefix, zone and subzone number (`intel-rapl:10` after `:9`)."""
    match = ZONE_DIR.match(zone_id)
    if match is None:
        return (zone_id, -1, -1)
    sub = int(match["sub"]) if match["sub"] is not None else -1
    return (match["prefix"], int(match["zone"]), sub)


def power_limit_w_of(zones: list[Zone]) -> float | None:
    """Sum the zones' long-term power limits (else their maximum settable power), in W."""
    limits_uw = [zone.power_limit_uw or zone.max_power_uw for zone in zones]
    if not limits_uw or any(limit is None for limit in limits_uw):
        return None
    return sum(limit for limit in limits_uw if limit is not None) / UW_PER_W

"""CPU package and DRAM energy in joules from RAPL counters in Linux powercap sysfs.

Source: `<sysfs_root>/class/powercap/intel-rapl:N/energy_uj`, a cumulative microjoule
counter that wraps at `max_energy_range_uj`. Check by hand:
`cat /sys/class/powercap/intel-rapl:0/energy_uj` (twice, a second apart: the difference
in µJ over the seconds is the package's mean power in µW). Provenance `measured:rapl`.

Zones read (docs/methodology.md#rapl):

- `intel-rapl:N` named `package-P` (or `package-P-die-D` on multi-die parts) is a package
  zone; every package zone with the same P belongs to device `cpu:P`, where P is the
  kernel's physical package id, the same number the psutil family uses for `cpu:P`.
  Recent kernels expose AMD packages through the same `intel-rapl` driver and names, so
  AMD needs no separate layout. A zone directory named `amd-rapl:N[:M]` is accepted as
  the same layout, defensively. The `amd_energy` driver is hwmon, not powercap
  (`/sys/class/hwmon`, removed from Linux 5.13) and is not read.
- `intel-rapl:N:M` named `dram` under a package zone is device `dram:P` of that package.
  A top-level zone named `dram` (some server firmware) becomes `dram:K` with K the
  smallest number no package's DRAM zone uses.
- Not devices: `core` and `uncore` subzones (part of their package: adding them would
  double count), `psys` (the whole platform, package included: same reason) and
  `intel-rapl-mmio:N` (a second interface to the same package counter).

Mirrored dies: on some multi-die AMD parts the kernel makes one package zone per die and
each reads the one per-socket counter. Zones whose counters show the same value, the same
range and the same change over two probe reads are mirrors: the lowest-numbered one is
read, the others are named in the device's `details["mirrors"]`, and their subzones are
dropped with them.

Wraps: the counter advance between reads is `(now - prev) mod (max_energy_range_uj + 1)`,
which is right as long as the counter wraps at most once between reads; `poll_interval_s`
is the time in which a zone at its maximum power advances half its range, so a sampler
that honours it never misses a wrap. Resets: a counter that went down is a wrap only when
the power that wrap implies is plausible (`zones.wrap_or_reset_uj`: at most
`WRAP_PLAUSIBLE_FACTOR` x the zone's maximum power or limit); otherwise the counter was
reset (reboot, driver reload), the interval's energy is dropped, the zone's `resets`
counts it and that tick's reading is `DEGRADED` with no power and no energy (the interval
is unknown, not measured at 0 W).

Permissions: since Linux 5.10 `energy_uj` is readable by root only (CVE-2020-8694). An
unreadable counter makes the family `not_readable` with the file named and the fix; a
read that fails mid-run raises `SensorError`; a failed read is never reported as 0.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.provenance import MEASURED_RAPL
from profiler.model.samples import Reading
from profiler.sensors.base import Availability, FamilyState, ProbedFamily, SensorError
from profiler.sensors.rapl.zones import (
    CONSERVATIVE_MAX_POWER_W,
    UJ_PER_J,
    ZONE_DIR,
    RaplDevice,
    RaplProbe,
    Zone,
    ZoneCandidate,
    counter_delta_uj,
    is_package,
    package_number,
    power_limit_w_of,
    wrap_or_reset_uj,
    zone_sort_key,
)

__all__ = [
    "CONSERVATIVE_MAX_POWER_W",
    "PERMISSION_FIX",
    "RaplSensors",
    "counter_delta_uj",
    "sysfs_root_from_env",
    "wrap_or_reset_uj",
]

#: Reads one sysfs file and returns its text; `Path.read_text` in production. Tests inject
#: one that raises `PermissionError`, because they run as root and `chmod 000` proves nothing.
Opener = Callable[[Path], str]


#: The fix shown by `finwatt doctor` when `energy_uj` is unreadable (CVE-2020-8694).
PERMISSION_FIX = (
    "run as root, or make energy_uj readable by a finwatt group with the udev rule or "
    "tmpfiles line in docs/permissions.md (root-only since Linux 5.10, CVE-2020-8694)"
)

_NOT_FOUND_FIX = (
    "RAPL needs bare metal (virtual machines rarely expose it) and the powercap driver: "
    "modprobe intel_rapl_msr"
)


def sysfs_root_from_env() -> Path:
    """Return the sysfs root: `$FINWATT_SYSFS_ROOT`, else `/sys`."""
    return Path(os.environ.get("FINWATT_SYSFS_ROOT", "/sys"))


class _UnreadableError(Exception):
    """A required file could not be read during probing."""

    def __init__(self, path: Path, err: OSError) -> None:
        super().__init__(str(path))
        self.path = path
        self.err = err


class RaplSensors(ProbedFamily[RaplProbe]):
    """RAPL energy of every CPU package (`cpu:P`) and DRAM zone (`dram:P`), in joules.

    Readings carry cumulative `energy_j` since `start` and `power_w`, the mean power
    (dE/dt) between the last two reads. Probing happens on first use, not at
    construction.

    Args:
        sysfs_root: the sysfs mount to read, normally `sysfs_root_from_env()`.
        opener: reads a file's text; defaults to `Path.read_text`.
        probe_gap_s: seconds between the two probe reads that detect mirrored zones.
        probe_sleep: waits between probe reads; defaults to `time.sleep`.

    """

    name = "rapl"

    def __init__(
        self,
        sysfs_root: Path,
        opener: Opener = Path.read_text,
        *,
        probe_gap_s: float = 0.01,
        probe_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._root = sysfs_root
        self._opener = opener
        self._probe_gap_s = probe_gap_s
        self._probe_sleep = probe_sleep
        self._probed: RaplProbe | None = None
        self._started = False
        self.last_errors: dict[str, str] = {}

    @property
    def powercap_dir(self) -> Path:
        """The powercap class directory searched for zones."""
        return self._root / "class" / "powercap"

    @property
    def poll_interval_s(self) -> float | None:
        """Seconds in which any read zone advances at most half its range at maximum power.

        Uses `constraint_0_max_power_uw` where the zone has it, else 500 W. None when no
        zone is read.
        """
        zones = [zone for device in self._probe().devices for zone in device.zones]
        if not zones:
            return None
        return min(zone.wrap_period_s for zone in zones) / 2

    def start(self, t_mono: float) -> None:
        """Take the baseline counter values at monotonic time `t_mono`; energy counts from here.

        Raises:
            SensorError: RAPL is unavailable (the message has the reason and the fix) or a
                counter cannot be read.

        """
        probe = self._probe()
        if probe.availability.state is not FamilyState.FOUND:
            fix = f"; {probe.availability.fix}" if probe.availability.fix else ""
            raise SensorError(f"RAPL unavailable: {probe.availability.reason}{fix}")
        for device in probe.devices:
            for zone in device.zones:
                zone.prev_uj = self._read_counter(zone)
                zone.t_prev = t_mono
                zone.total_uj = 0
            device.prev_total_uj = 0
            device.t_prev = t_mono
        self._started = True

    def read(self, t_mono: float) -> list[Reading]:
        """Return each device's cumulative energy and mean power since the previous read.

        Every zone that can be read is brought up to date, so a failed zone does not make
        the others miss a wrap. A reading whose zone went unread for longer than its wrap
        period carries `DeviceStatus.DEGRADED` and no power: a wrap may have been missed,
        so its energy is a lower bound.

        A zone whose counter cannot be read or parsed makes its own device's reading
        `DEGRADED` with null metrics (never a 0) for that tick; the other devices read
        normally, and the zone's energy is caught up on its next good read.

        Raises:
            SensorError: read before `start()`.

        """
        if not self._started:
            raise SensorError("RAPL read before start()")
        failed: set[str] = set()
        stale: set[str] = set()
        reset: set[str] = set()
        for device in self._probe().devices:
            for zone in device.zones:
                try:
                    now_uj = self._read_counter(zone)
                    assert zone.prev_uj is not None and zone.t_prev is not None
                    delta_uj = wrap_or_reset_uj(
                        zone.prev_uj,
                        now_uj,
                        zone.max_energy_range_uj,
                        t_mono - zone.t_prev,
                        zone.ceiling_w,
                    )
                except (SensorError, ValueError) as err:
                    self.last_errors[zone.zone_id] = str(err)
                    failed.add(zone.zone_id)
                    continue
                if delta_uj is None:  # reset: the interval's energy is unknown, dropped
                    zone.resets += 1
                    self.last_errors[zone.zone_id] = (
                        f"{zone.energy_path}: counter reset ({zone.prev_uj} -> {now_uj} uJ); "
                        "that interval's energy is dropped"
                    )
                    reset.add(zone.zone_id)
                    delta_uj = 0
                elif t_mono - zone.t_prev > zone.wrap_period_s:
                    stale.add(zone.zone_id)
                zone.total_uj += delta_uj
                zone.prev_uj = now_uj
                zone.t_prev = t_mono
        return [
            Reading(device.info.device_id, status=DeviceStatus.DEGRADED)
            if any(zone.zone_id in failed for zone in device.zones)
            else self._device_reading(device, t_mono, stale, reset)
            for device in self._probe().devices
        ]

    def close(self) -> None:
        """Forget the running state; nothing is held open between reads."""
        self._started = False

    def _device_reading(
        self, device: RaplDevice, t_mono: float, stale: set[str], reset: set[str]
    ) -> Reading:
        """The device's reading; after a reset it has no energy (the interval is unknown).

        A reset interval's energy is dropped from the running total, and the reading
        carries no cumulative energy either: a reading equal to the previous one would
        say the interval was measured at 0 W. The next reading's energy counts on from
        the total, so every later interval is a counter delta again.
        """
        total_uj = sum(zone.total_uj for zone in device.zones)
        power_w: float | None = None
        status = DeviceStatus.OK
        was_reset = any(zone.zone_id in reset for zone in device.zones)
        if was_reset or any(zone.zone_id in stale for zone in device.zones):
            status = DeviceStatus.DEGRADED
        elif device.t_prev is not None and device.prev_total_uj is not None:
            dt_s = t_mono - device.t_prev
            if dt_s > 0:
                power_w = (total_uj - device.prev_total_uj) / UJ_PER_J / dt_s
        device.prev_total_uj = total_uj
        device.t_prev = t_mono
        return Reading(
            device.info.device_id,
            power_w=power_w,
            energy_j=None if was_reset else total_uj / UJ_PER_J,
            status=status,
        )

    def _read_counter(self, zone: Zone) -> int:
        path = zone.energy_path
        try:
            text = self._opener(path)
        except PermissionError as err:
            raise SensorError(f"not readable: {path}; {PERMISSION_FIX}") from err
        except OSError as err:
            raise SensorError(f"not readable: {path} ({err.strerror or err})") from err
        try:
            return int(text.strip())
        except ValueError as err:
            raise SensorError(f"not a counter value in {path}: {text.strip()!r}") from err

    def _read_int(self, path: Path) -> int:
        """Read a required integer file; raises `_UnreadableError` or `ValueError`."""
        try:
            return int(self._opener(path).strip())
        except OSError as err:
            raise _UnreadableError(path, err) from err

    def _read_optional_uw(self, path: Path) -> int | None:
        """Read an optional power file in µW; absent, unreadable or non-positive is None."""
        try:
            value = int(self._opener(path).strip())
        except (OSError, ValueError):
            return None
        return value if value > 0 else None

    def _discover(self) -> RaplProbe:
        powercap = self.powercap_dir
        if not powercap.is_dir():
            return RaplProbe(
                Availability(
                    "rapl",
                    FamilyState.NOT_FOUND,
                    f"no powercap directory at {powercap}",
                    _NOT_FOUND_FIX,
                )
            )
        candidates = list(self._candidates(powercap))
        packages = [c for c in candidates if c.parent_id is None and is_package(c.name)]
        if not packages:
            return RaplProbe(
                Availability(
                    "rapl",
                    FamilyState.NOT_FOUND,
                    f"no RAPL package zones under {powercap}",
                    _NOT_FOUND_FIX,
                )
            )
        try:
            return self._build(candidates)
        except _UnreadableError as err:
            if isinstance(err.err, PermissionError):
                return RaplProbe(
                    Availability(
                        "rapl",
                        FamilyState.NOT_READABLE,
                        f"not readable: {err.path}",
                        PERMISSION_FIX,
                    )
                )
            return RaplProbe(
                Availability(
                    "rapl",
                    FamilyState.NOT_READABLE,
                    f"not readable: {err.path} ({err.err.strerror or err.err})",
                )
            )
        except ValueError as err:
            return RaplProbe(
                Availability("rapl", FamilyState.NOT_READABLE, f"unexpected content: {err}")
            )

    def _candidates(self, powercap: Path) -> Iterator[ZoneCandidate]:
        """Yield every zone directory once, whether listed flat or nested in its parent."""
        seen: set[str] = set()
        dirs: list[Path] = []
        for entry in sorted(powercap.iterdir()):
            if ZONE_DIR.match(entry.name) and entry.is_dir():
                dirs.append(entry)
                dirs.extend(sorted(p for p in entry.iterdir() if ZONE_DIR.match(p.name)))
        for path in sorted(dirs, key=lambda p: zone_sort_key(p.name)):
            match = ZONE_DIR.match(path.name)
            if match is None or path.name in seen or not path.is_dir():
                continue
            seen.add(path.name)
            parent_id = None
            if match["sub"] is not None:
                parent_id = f"{match['prefix']}:{match['zone']}"
            try:
                name = self._opener(path / "name").strip()
            except OSError:
                continue
            yield ZoneCandidate(path.name, path, name, parent_id)

    def _zone(self, candidate: ZoneCandidate) -> Zone:
        path = candidate.path
        return Zone(
            zone_id=candidate.zone_id,
            path=path,
            name=candidate.name,
            max_energy_range_uj=self._read_int(path / "max_energy_range_uj"),
            max_power_uw=self._read_optional_uw(path / "constraint_0_max_power_uw"),
            power_limit_uw=self._read_optional_uw(path / "constraint_0_power_limit_uw"),
        )

    def _build(self, candidates: list[ZoneCandidate]) -> RaplProbe:
        package_zones = [
            self._zone(c) for c in candidates if c.parent_id is None and is_package(c.name)
        ]
        mirrors = self._find_mirrors(package_zones)
        kept = [zone for zone in package_zones if zone.zone_id not in mirrors]
        by_package: dict[int, list[Zone]] = {}
        for zone in kept:
            by_package.setdefault(package_number(zone), []).append(zone)

        devices: list[RaplDevice] = []
        dram_devices: list[RaplDevice] = []
        for pkg, zones in sorted(by_package.items()):
            zone_ids = {zone.zone_id for zone in zones}
            details: dict[str, object] = {
                "zones": [zone.zone_id for zone in zones],
                "source": [str(zone.energy_path) for zone in zones],
            }
            mirrored = sorted(m for m, original in mirrors.items() if original in zone_ids)
            if mirrored:
                originals = sorted({mirrors[m] for m in mirrored})
                details["mirrors"] = mirrored
                details["mirror_note"] = (
                    f"{', '.join(mirrored)} read identically to {', '.join(originals)} "
                    "(mirrored dies of one package); counted once"
                )
            devices.append(
                RaplDevice(
                    DeviceInfo(
                        device_id=f"cpu:{pkg}",
                        kind="cpu",
                        power_limit_w=power_limit_w_of(zones),
                        provenance=MEASURED_RAPL,
                        details=details,
                    ),
                    zones,
                )
            )
            drams = [
                self._zone(c) for c in candidates if c.name == "dram" and c.parent_id in zone_ids
            ]
            if drams:
                dram_devices.append(self._dram_device(pkg, drams))

        used_numbers = {int(d.info.device_id.split(":")[1]) for d in dram_devices}
        for candidate in candidates:
            if candidate.parent_id is None and candidate.name == "dram":
                number = min(n for n in range(len(used_numbers) + 1) if n not in used_numbers)
                used_numbers.add(number)
                dram_devices.append(self._dram_device(number, [self._zone(candidate)]))

        dram_devices.sort(key=lambda d: int(d.info.device_id.split(":")[1]))
        all_devices = devices + dram_devices
        read_ids = set()
        for device in all_devices:
            for zone in device.zones:
                # Probe every counter once: an unreadable one is found here, not mid-run.
                value_uj = self._read_int(zone.energy_path)
                if not 0 <= value_uj <= zone.max_energy_range_uj:
                    raise ValueError(
                        f"{zone.energy_path} reads {value_uj}, outside "
                        f"0..{zone.max_energy_range_uj} (max_energy_range_uj)"
                    )
                read_ids.add(zone.zone_id)
        ignored = sorted(
            c.zone_id
            for c in candidates
            if c.zone_id not in read_ids and c.zone_id not in mirrors and c.parent_id not in mirrors
        )
        reason = (
            f"{len(devices)} package(s) and {len(dram_devices)} DRAM zone(s) under "
            f"{self.powercap_dir}"
        )
        if mirrors:
            reason += f"; mirrored zones counted once: {', '.join(sorted(mirrors))}"
        if ignored:
            reason += f"; not read (part of a package or the platform): {', '.join(ignored)}"
        return RaplProbe(Availability("rapl", FamilyState.FOUND, reason), all_devices)

    def _dram_device(self, number: int, zones: list[Zone]) -> RaplDevice:
        return RaplDevice(
            DeviceInfo(
                device_id=f"dram:{number}",
                kind="dram",
                power_limit_w=power_limit_w_of(zones),
                provenance=MEASURED_RAPL,
                details={
                    "zones": [zone.zone_id for zone in zones],
                    "source": [str(zone.energy_path) for zone in zones],
                },
            ),
            zones,
        )

    def _find_mirrors(self, zones: list[Zone]) -> dict[str, str]:
        """Map each mirror zone id to the lower-numbered zone it reads identically to.

        Two distinct packages showing the same µJ value twice, with the same change in
        between, is not a coincidence worth planning for; one counter seen twice is.
        """
        if len(zones) < 2:
            return {}
        first = {zone.zone_id: self._read_int(zone.energy_path) for zone in zones}
        self._probe_sleep(self._probe_gap_s)
        second = {zone.zone_id: self._read_int(zone.energy_path) for zone in zones}
        mirrors: dict[str, str] = {}
        for i, zone in enumerate(zones):
            if zone.zone_id in mirrors:
                continue
            for other in zones[i + 1 :]:
                if (
                    other.zone_id not in mirrors
                    and first[other.zone_id] == first[zone.zone_id]
                    and second[other.zone_id] == second[zone.zone_id]
                    and other.max_energy_range_uj == zone.max_energy_range_uj
                ):
                    mirrors[other.zone_id] = zone.zone_id
        return mirrors

"""`estimated:host-curve`: a VM's CPU power apportioned from its hypervisor host's curve.

Inside a VM the host's RAPL and BMC are out of reach (`profiler.sensors.virt`). What
the user can give instead is the host's power curve P_host(u), load 0..1 to watts,
either measured by a finwatt profiling run on the host (imported here; the workflow
turns its ladder into points) or from a load->watts CSV such as a SPECpower_ssj2008
result, and the VM's share s of the host (its vCPUs over the host's hardware threads).
The VM's power at utilisation u is

    P_vm(u) = s x P_host(u)

the VM's share of a host running at the VM's load (docs/decisions.md, "Host-curve
model for VMs"). P_host is interpolated linearly between the curve's points and held
flat beyond its ends. Energy is integrated as P_vm(u_interval) x dt per tick.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from profiler.files.small_files import SmallFileError, read_small_text
from profiler.model.device import DeviceInfo
from profiler.model.errors import FinwattInputError
from profiler.model.provenance import Provenance
from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.cpu import CpuSensors
from profiler.sensors.power_model import UtilisationPowerModel

ESTIMATED_HOST_CURVE = Provenance("estimated:host-curve")
CURVE_MAX_BYTES = 2**20
"""A load,watts curve is a few dozen lines; a larger file is refused, not read."""

_IDLE_WORDS = ("active idle", "idle")


class HostCurveError(FinwattInputError):
    """The host curve or VM share is unusable; the message names the file or key: exit 2."""


@dataclass(frozen=True)
class HostCurve:
    """A host's power curve and where it comes from.

    Attributes:
        points: sorted (load 0..1, watts) points.
        source: one line naming the curve's origin (run id, or CSV file), for reports.
        host_threads: hardware threads of the host, where the source says so.
    """

    points: tuple[tuple[float, float], ...]
    source: str
    host_threads: int | None = None

    def power_w(self, load: float) -> float:
        """Return the host's power in watts at `load` (0..1), flat beyond the ends."""
        loads, watts = zip(*self.points, strict=True)
        return float(np.interp(load, loads, watts))


def _load(text: str, where: str) -> tuple[float, bool] | None:
    """Return a load cell's (value, written as percent); None for a header cell.

    SPECpower's "Active Idle" is load 0.

    Raises:
        HostCurveError: a negative or non-finite load.
    """
    cell = text.strip().lower()
    if cell in _IDLE_WORDS:
        return 0.0, True
    try:
        value = float(cell.removesuffix("%").strip())
    except ValueError:
        return None
    if not np.isfinite(value) or value < 0:
        raise HostCurveError(f"{where}: load {text!r} is not a load; use 0-1, 0-100 or 50%")
    return value, cell.endswith("%")


def _row(row: list[str], where: str) -> tuple[tuple[float, bool], float] | None:
    """Return ((load, percent), watts) of one CSV row, None for a header row."""
    if len(row) < 2:
        raise HostCurveError(f"{where}: need two columns, load and watts")
    load = _load(row[0], where)
    if load is None:
        return None
    try:
        watts = float(row[1])
    except ValueError as err:
        raise HostCurveError(f"{where}: watts {row[1]!r} is not a number") from err
    if not np.isfinite(watts) or watts < 0:
        raise HostCurveError(f"{where}: watts {row[1]!r} must be a finite number, 0 or more")
    return load, watts


def parse_curve_csv(text: str, source: str) -> HostCurve:
    """Parse a load->watts CSV: `load,watts` rows; a header line and `#` lines are skipped.

    Loads may be fractions (0.5), percentages (50 or 50%) or SPECpower's "Active Idle";
    plain loads are fractions when all of them lie within 0..1, else percentages.

    Raises:
        HostCurveError: fewer than two points, a bad number, or a load above 100 %.
    """
    rows: list[tuple[tuple[float, bool], float]] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        for row in reader:
            if not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            parsed = _row(row, f"{source} line {reader.line_num}")
            if parsed is None and rows:
                raise HostCurveError(
                    f"{source} line {reader.line_num}: load {row[0]!r} is not a number"
                )
            if parsed is not None:
                rows.append(parsed)
    except csv.Error as err:  # a field over csv's limit, a stray quote (hostile input)
        raise HostCurveError(f"{source} line {reader.line_num}: not CSV ({err})") from err
    plain = [value for (value, percent), _ in rows if not percent]
    fractions = bool(plain) and max(plain) <= 1.0
    points = sorted(
        (value if fractions and not percent else value / 100.0, watts)
        for (value, percent), watts in rows
    )
    if len(points) < 2:
        raise HostCurveError(f"{source}: a host curve needs at least two load,watts rows")
    for (load, _), (next_load, _) in itertools.pairwise(points):
        if load == next_load:
            raise HostCurveError(f"{source}: load {load:.0%} is given twice; keep one row")
    if points[-1][0] > 1.0:
        raise HostCurveError(f"{source}: a load above 100 % ({points[-1][0]:.0%})")
    return HostCurve(tuple(points), f"CSV {source}")


def read_curve_csv(path: Path) -> HostCurve:
    """Read a load->watts CSV file (see `parse_curve_csv`).

    Raises:
        HostCurveError: unreadable or malformed.
    """
    try:  # a FIFO or a huge file must not hang finwatt (docs/decisions.md#hostile-input)
        text = read_small_text(path, max_bytes=CURVE_MAX_BYTES)
    except SmallFileError as err:
        raise HostCurveError(
            f"host_curve {path}: cannot read it ({err}); give a load,watts CSV file"
        ) from err
    return parse_curve_csv(text, str(path))


def vm_share(
    share: float | None, vcpus: int, host_threads: int | None, source: str
) -> tuple[float, str]:
    """Return the VM's share of the host (0..1] and how it was found.

    Args:
        share: the `vm_share` setting, which wins.
        vcpus: logical CPUs this VM sees.
        host_threads: the host's hardware threads, where the curve's source records them.
        source: the curve's source, for the message.

    Raises:
        HostCurveError: neither a setting nor the host's thread count is known, or the
            VM has more vCPUs than the host has threads.
    """
    if share is not None:
        return share, f"vm_share setting {share:g}"
    if host_threads is None:
        raise HostCurveError(
            f"host_curve {source}: the host's thread count is unknown; set vm_share = "
            f"<vCPUs / host threads> in [defaults] (this VM has {vcpus} vCPUs)"
        )
    if vcpus > host_threads:
        raise HostCurveError(
            f"host_curve {source}: this VM's {vcpus} vCPUs exceed the host's {host_threads} "
            "threads; is it the right host? set vm_share in [defaults]"
        )
    return vcpus / host_threads, f"{vcpus} vCPUs / {host_threads} host threads"


class HostCurveModel(UtilisationPowerModel):
    """Estimated power and energy for each `cpu:N` of a VM from its host's power curve.

    The share is split between the VM's packages by their vCPU counts.
    """

    def __init__(
        self,
        cpu: CpuSensors,
        curve: HostCurve,
        share: float,
        share_source: str,
        *,
        packages: Iterable[int] | None = None,
    ) -> None:
        self.curve = curve
        chosen: Sequence[int] = list(cpu.package_util if packages is None else packages)
        counts = {pkg: max(1, cpu.packages.count(pkg)) for pkg in chosen}
        total = sum(counts.values())
        self.shares = {pkg: share * counts[pkg] / total for pkg in chosen}
        self.source = (
            f"host curve from {curve.source}, share {share:.4g} ({share_source}): "
            "P_vm(u) = share x P_host(u)"
        )
        super().__init__(cpu, self.shares)

    def availability(self) -> Availability:
        """Report the curve in use (always found)."""
        return Availability("model", FamilyState.FOUND, f"{ESTIMATED_HOST_CURVE}: {self.source}")

    def devices(self) -> list[DeviceInfo]:
        """One `cpu:N` record per package carrying the provenance and the curve's source."""
        return [
            DeviceInfo(
                f"cpu:{pkg}",
                "cpu",
                power_limit_w=s * self.curve.power_w(1.0),
                provenance=ESTIMATED_HOST_CURVE,
                details={
                    "power_source": self.source,
                    "host_curve_source": self.curve.source,
                    "vm_share": s,
                    "model_idle_w": s * self.curve.power_w(0.0),
                    "model_max_w": s * self.curve.power_w(1.0),
                },
            )
            for pkg, s in self.shares.items()
        ]

    def package_power_w(self, pkg: int, util: float) -> float:
        """Return the package's share of the host's power at utilisation `util`, in watts."""
        return self.shares[pkg] * self.curve.power_w(util)

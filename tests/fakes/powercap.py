"""Fake Linux powercap trees in a temporary directory, laid out as the kernel lays them out.

`/sys/class/powercap/` lists every zone flat (`intel-rapl:0`, `intel-rapl:0:0`, ...); the
kernel's entries are symlinks, and a subzone also appears inside its parent's directory.
The builder writes real directories for top-level zones and, for subzones, a real
directory inside the parent plus (when `flat_subzones`) a symlink in the class directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: The range many Intel packages report: 2**32 counts of 61.035 µJ, about 262 kJ.
DEFAULT_MAX_ENERGY_RANGE_UJ = 262_143_328_850


class FakePowercap:
    """Builds `<root>/class/powercap/<zone>/{name,energy_uj,max_energy_range_uj,...}`."""

    def __init__(self, root: Path, *, flat_subzones: bool = True) -> None:
        self.root = root
        self.powercap = root / "class" / "powercap"
        self.powercap.mkdir(parents=True, exist_ok=True)
        self.flat_subzones = flat_subzones
        self._paths: dict[str, Path] = {}
        # The control-type directory the kernel also puts here; not a zone.
        control = self.powercap / "intel-rapl"
        control.mkdir(exist_ok=True)
        (control / "enabled").write_text("1\n")

    def add_zone(
        self,
        zone_id: str,
        name: str,
        energy_uj: int,
        *,
        max_energy_range_uj: int = DEFAULT_MAX_ENERGY_RANGE_UJ,
        max_power_uw: int | None = None,
        power_limit_uw: int | None = None,
    ) -> Path:
        """Create zone `zone_id` (`intel-rapl:0` or subzone `intel-rapl:0:1`); return its dir."""
        parts = zone_id.split(":")
        if len(parts) == 3:
            parent = self._paths[":".join(parts[:2])]
            path = parent / zone_id
            path.mkdir()
            if self.flat_subzones:
                (self.powercap / zone_id).symlink_to(path, target_is_directory=True)
        else:
            path = self.powercap / zone_id
            path.mkdir()
        self._paths[zone_id] = path
        (path / "name").write_text(f"{name}\n")
        (path / "energy_uj").write_text(f"{energy_uj}\n")
        (path / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
        (path / "enabled").write_text("1\n")
        if max_power_uw is not None:
            (path / "constraint_0_name").write_text("long_term\n")
            (path / "constraint_0_max_power_uw").write_text(f"{max_power_uw}\n")
        if power_limit_uw is not None:
            (path / "constraint_0_name").write_text("long_term\n")
            (path / "constraint_0_power_limit_uw").write_text(f"{power_limit_uw}\n")
        return path

    def path(self, zone_id: str) -> Path:
        """Return the directory of zone `zone_id`."""
        return self._paths[zone_id]

    def energy_path(self, zone_id: str) -> Path:
        """Return the `energy_uj` file of zone `zone_id`."""
        return self._paths[zone_id] / "energy_uj"

    def set_energy(self, zone_id: str, energy_uj: int) -> None:
        """Set zone `zone_id`'s counter to `energy_uj`."""
        self.energy_path(zone_id).write_text(f"{energy_uj}\n")

    def energy(self, zone_id: str) -> int:
        """Return zone `zone_id`'s counter."""
        return int(self.energy_path(zone_id).read_text())

    def advance(self, zone_id: str, delta_uj: int) -> int:
        """Advance zone `zone_id`'s counter by `delta_uj`, wrapping as the hardware does."""
        range_uj = int((self._paths[zone_id] / "max_energy_range_uj").read_text())
        value = (self.energy(zone_id) + delta_uj) % (range_uj + 1)
        self.set_energy(zone_id, value)
        return value


def denying_opener(*denied: Path) -> Callable[[Path], str]:
    """Return an opener that raises `PermissionError` for `denied` files, as for non-root.

    Tests run as root, where `chmod 000` changes nothing, so permission is faked here.
    """
    denied_set = {Path(p) for p in denied}

    def opener(path: Path) -> str:
        if path in denied_set:
            raise PermissionError(13, "Permission denied", str(path))
        return path.read_text()

    return opener


class SwitchableOpener:
    """An opener that reads files until `fail_on` names one, then raises `OSError` for it."""

    def __init__(self) -> None:
        self.fail_on: set[Path] = set()
        self.error: OSError = OSError(5, "Input/output error")

    def __call__(self, path: Path) -> str:
        if path in self.fail_on:
            raise self.error
        return path.read_text()

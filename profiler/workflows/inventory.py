"""A run's inventory (the audit trail), and what changed between two runs' inventories.

`machine_inventory` completes the file-based inventory of `profiler.sensors.inventory`
with what only the probed sensors and the settings know: GPU driver and CUDA versions
(NVML), BMC firmware (the `node` device's `bmc_firmware` detail, where a BMC family
records one), the hypervisor, the power provenance of each device, finwatt's version,
a hash of the settings that shape the figures, and the command line. `probe` stores it
on the `SensorSet`, and `Recording` writes it with the run.

The inventory is read under the root that holds the settings' sysfs root: `/` for
`/sys`, `/host` for `sysfs_root = "/host/sys"` (a container with the host's /proc and
/sys mounted there), so a fake tree in tests is one directory.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.files.version import finwatt_version
from profiler.model.errors import FinwattInputError
from profiler.sensors.inventory import Inventory, collect_inventory, inventory_changes
from profiler.sensors.nvml.family import NvmlSensors
from profiler.sensors.probe import SensorSet
from profiler.sensors.virt import detect_virtualization
from profiler.settings.config import Settings
from profiler.store.database import Store


class InventoryDiffError(FinwattInputError):
    """`runs --diff`: a run is missing or has no inventory (exit 2)."""


def inventory_root(settings: Settings) -> Path:
    """Return the root holding proc/ and sys/: the parent of a sysfs root named `sys`."""
    sysfs = settings.sysfs_root
    return sysfs.parent if sysfs.name == "sys" else Path("/")


def config_hash(settings: Settings) -> str:
    """Return a short SHA-256 of the settings that shape the figures (not paths of files)."""
    shaping = {
        "sysfs_root": str(settings.sysfs_root),
        "cpu_tdp_w": settings.cpu_tdp_w,
        "cpu_idle_ratio": settings.cpu_idle_ratio,
        "host_curve": settings.host_curve,
        "vm_share": settings.vm_share,
        "site": vars(settings.site),
    }
    text = json.dumps(shaping, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _hypervisor(root: Path) -> str | None:
    found = detect_virtualization(root)
    if found.vm is None:
        return None
    if not found.vm:
        return "none (bare metal)"
    return found.hypervisor or "unknown hypervisor"


def machine_inventory(
    settings: Settings, sensors: SensorSet, argv: Sequence[str] | None = None
) -> Inventory:
    """Return the inventory of this machine, these sensors and this command.

    Args:
        settings: the resolved settings (root, config hash).
        sensors: the probed sensors (NVML versions, BMC firmware, provenances).
        argv: the command line (default `sys.argv`); its program name reads `finwatt`.
    """
    root = inventory_root(settings)
    driver = cuda = None
    for family in sensors.families:
        if isinstance(family, NvmlSensors):
            driver, cuda = family.versions()
    bmc = next((d.details.get("bmc_firmware") for d in sensors.devices if d.kind == "node"), None)
    args = list(sys.argv if argv is None else argv)
    extra: Inventory = {
        "gpu_driver": driver,
        "cuda_driver": cuda,
        "bmc_firmware": None if bmc is None else str(bmc),
        "hypervisor": _hypervisor(root),
        "power_provenance": ", ".join(
            f"{d.device_id}={d.provenance}" for d in sensors.devices if d.provenance
        )
        or None,
        "finwatt_version": finwatt_version(),
        "config_hash": config_hash(settings),
        "command_line": shlex.join(["finwatt", *args[1:]]),
    }
    return collect_inventory(root, extra=extra)


@dataclass(frozen=True)
class InventoryDiff:
    """What changed between two runs' inventories.

    Attributes:
        before: the first run's id.
        after: the second run's id.
        changes: (item, value in `before`, value in `after`) for each item that differs.
    """

    before: str
    after: str
    changes: list[tuple[str, str | None, str | None]]

    def as_dict(self) -> dict[str, object]:
        """Return the JSON shape of `finwatt runs --diff A B --json`."""
        return {
            "before": self.before,
            "after": self.after,
            "changed": [{"item": k, "before": a, "after": b} for k, a, b in self.changes],
        }


def diff_runs(store: Store, before: str, after: str) -> InventoryDiff:
    """Compare the inventories of runs `before` and `after`.

    Raises:
        InventoryDiffError: a run does not exist, or was recorded without an inventory.
    """
    inventories = []
    for run_id in (before, after):
        if store.runs.get(run_id) is None:
            raise InventoryDiffError(
                f"--diff: no run {run_id!r} in {store.path}; see `finwatt runs`"
            )
        inventory = store.inventory.for_run(run_id)
        if inventory is None:
            raise InventoryDiffError(
                f"--diff: run {run_id} has no inventory (recorded before finwatt stored "
                "one, or imported without one); compare two newer runs"
            )
        inventories.append(inventory)
    return InventoryDiff(before, after, inventory_changes(*inventories))

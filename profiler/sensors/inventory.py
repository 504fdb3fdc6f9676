"""What a run ran on, for the audit trail: kernel, OS, CPU, firmware, drivers, finwatt.

Every run stores one inventory (a flat mapping of name -> text, None where unreadable),
so that two runs can be compared item by item (`finwatt runs --diff A B`): a regression
explained by "cpu_microcode changed" is the point (docs/decisions.md#audit-trail). Everything
is read from files under an injected root (tests point it at a fake /proc and /sys tree), never by
running a program, except `dmidecode`, which is tried only where the DMI files are
missing and the binary exists (it needs root; no shell).

Check by hand: `uname -r`, `grep -m1 microcode /proc/cpuinfo`,
`cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor`,
`cat /sys/class/dmi/id/bios_version`, `nvidia-smi` (driver and CUDA versions).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

Inventory = dict[str, str | None]
"""An inventory: item name -> its text (None where unreadable)."""

DMI_ITEMS = (
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("bios_date", "bios_date"),
    ("system_vendor", "sys_vendor"),
    ("system_product", "product_name"),
    ("board_name", "board_name"),
)
"""(inventory item, file under /sys/class/dmi/id) of the firmware and platform."""

DMIDECODE_ITEMS = (
    ("bios_vendor", "bios-vendor"),
    ("bios_version", "bios-version"),
    ("bios_date", "bios-release-date"),
    ("system_vendor", "system-manufacturer"),
    ("system_product", "system-product-name"),
    ("board_name", "baseboard-product-name"),
)
"""(inventory item, `dmidecode -s` keyword) for where /sys/class/dmi is missing."""

Runner = Callable[[list[str]], str | None]
"""Runs an argument list (no shell) and returns its standard output, None on failure."""


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return None
    return text or None


def _cpuinfo_values(root: Path, key: str) -> list[str]:
    text = _read(root / "proc/cpuinfo") or ""
    values = []
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == key:
            values.append(value.strip())
    return values


def _one_or_mixed(values: list[str]) -> str | None:
    """The single value, "mixed: a, b" where they differ, None where there is none."""
    distinct = list(dict.fromkeys(v for v in values if v))
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else "mixed: " + ", ".join(distinct)


def _os_name(root: Path) -> str | None:
    for name in ("etc/os-release", "usr/lib/os-release"):
        text = _read(root / name)
        if text is None:
            continue
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key == "PRETTY_NAME":
                return value.strip().strip('"') or None
    return None


def _cpufreq(root: Path, name: str) -> str | None:
    cpus = sorted((root / "sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/" + name))
    return _one_or_mixed([v for v in map(_read, cpus) if v is not None])


def _turbo(root: Path) -> str | None:
    """Turbo/boost "on" or "off": intel_pstate's no_turbo, else cpufreq's boost."""
    no_turbo = _read(root / "sys/devices/system/cpu/intel_pstate/no_turbo")
    if no_turbo in ("0", "1"):
        return "off" if no_turbo == "1" else "on"
    boost = _read(root / "sys/devices/system/cpu/cpufreq/boost")
    if boost in ("0", "1"):
        return "on" if boost == "1" else "off"
    return None


def run_program(args: list[str]) -> str | None:
    """Run `args` without a shell for at most 5 s; its stdout, None when it fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def firmware(root: Path, runner: Runner | None = run_program) -> Inventory:
    """Return BIOS and platform items from /sys/class/dmi/id, else `dmidecode -s`."""
    dmi = root / "sys/class/dmi/id"
    found: Inventory = {item: _read(dmi / name) for item, name in DMI_ITEMS}
    if runner is not None and all(v is None for v in found.values()):
        found = {item: runner(["dmidecode", "-s", key]) for item, key in DMIDECODE_ITEMS}
    return found


def collect_inventory(
    root: Path = Path("/"),
    *,
    runner: Runner | None = run_program,
    extra: Mapping[str, str | None] | None = None,
) -> Inventory:
    """Return this machine's inventory, read under `root`.

    Args:
        root: the filesystem root holding proc/, sys/ and etc/.
        runner: runs `dmidecode` where the DMI files are missing (None: never).
        extra: items the caller knows and files do not: GPU driver and CUDA versions
            (NVML), BMC firmware (the `node` device), finwatt version, config hash,
            command line, hypervisor; they are added as given.
    """
    microcode = _cpuinfo_values(root, "microcode")
    inventory: Inventory = {
        "kernel": _read(root / "proc/sys/kernel/osrelease"),
        "kernel_build": _read(root / "proc/sys/kernel/version"),
        "os": _os_name(root),
        "cpu_model": _one_or_mixed(
            _cpuinfo_values(root, "model name") or _cpuinfo_values(root, "Model")
        ),
        "cpu_microcode": _one_or_mixed(microcode),
        "cpu_governor": _cpufreq(root, "scaling_governor"),
        "cpu_freq_driver": _cpufreq(root, "scaling_driver"),
        "cpu_turbo": _turbo(root),
        **firmware(root, runner),
    }
    inventory.update(extra or {})
    return inventory


def inventory_changes(
    before: Mapping[str, str | None], after: Mapping[str, str | None]
) -> list[tuple[str, str | None, str | None]]:
    """Return (item, before, after) for every item whose text differs, in a stable order.

    An item only one side has counts as changed (None on the other side).
    """
    names = list(dict.fromkeys([*before, *after]))
    return [
        (name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    ]

"""Is this machine a virtual machine, under which hypervisor, and which power model applies.

The checks follow systemd-detect-virt's VM detection (src/basic/virt.c), over files
only, under an injected root (tests point it at a fake tree):

1. DMI strings (`/sys/class/dmi/id/{product_name,sys_vendor,board_vendor,bios_vendor,
   product_version}`) matched against systemd's vendor table ("KVM", "QEMU", "VMware",
   "Microsoft Corporation" + "Virtual Machine", "Xen", "Amazon EC2", "Google", ...).
2. Xen: `/sys/hypervisor/type` reads "xen", or `/proc/xen` exists.
3. CPUID's hypervisor bit, as the kernel reports it: the `hypervisor` flag in
   `/proc/cpuinfo` (leaf 1, ECX bit 31). The vendor leaf (0x40000000) is not readable
   from a file; the kernel's paravirtual clock sources stand in for it
   (`kvm-clock`, `hyperv_clocksource_*`, `xen` in `available_clocksource`).

A VM has no RAPL or BMC of its own (the host owns them), so its CPU power is a model:
`estimated:host-curve` when the user gave the host's power curve and the VM's share,
else the TDP or per-vCPU model. Check by hand: `systemd-detect-virt --vm`,
`cat /sys/class/dmi/id/sys_vendor`, `grep -m1 -o hypervisor /proc/cpuinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from profiler.sensors.base import Availability, FamilyState

DMI_FIELDS = ("product_name", "sys_vendor", "board_vendor", "bios_vendor", "product_version")
"""The DMI files systemd-detect-virt reads, in its order."""

DMI_VENDORS = (
    ("KVM", "kvm"),
    ("OpenStack", "kvm"),
    ("KubeVirt", "kvm"),
    ("Amazon EC2", "amazon"),
    ("QEMU", "qemu"),
    ("VMware", "vmware"),
    ("VMW", "vmware"),
    ("innotek GmbH", "oracle"),
    ("VirtualBox", "oracle"),
    ("Oracle Corporation", "oracle"),
    ("Xen", "xen"),
    ("Bochs", "bochs"),
    ("Parallels", "parallels"),
    ("BHYVE", "bhyve"),
    ("Hyper-V", "microsoft"),
    ("Apple Virtualization", "apple"),
    ("Google Compute Engine", "google"),
    ("Google", "google"),
)
"""(DMI string prefix, hypervisor id): systemd's `dmi_vendor_table`, same ids."""

CLOCKSOURCES = (("kvm-clock", "kvm"), ("hyperv_clocksource", "microsoft"), ("xen", "xen"))
"""(paravirtual clock source prefix, hypervisor id), offered only under that hypervisor."""

HOST_CURVE_FIX = (
    "give the host's power curve and this VM's share: host_curve = '<run id of a finwatt "
    "profile run on the host, imported>' or '<load,watts CSV such as a SPECpower result>' "
    "and vm_share = <vCPUs / host threads> in [defaults] of config.toml"
)


@dataclass(frozen=True)
class Virtualization:
    """What the checks found.

    Attributes:
        vm: True in a VM, False on bare metal, None when nothing could be read.
        hypervisor: systemd's id ("kvm", "vmware", "microsoft", "xen", ...), None when
            unknown (bare metal, or a VM whose hypervisor hides its name).
        evidence: one line per check that matched, e.g. "DMI sys_vendor 'QEMU'".
    """

    vm: bool | None
    hypervisor: str | None = None
    evidence: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """Return the JSON shape of `finwatt doctor --json` `virtualization`."""
        return {"vm": self.vm, "hypervisor": self.hypervisor, "evidence": list(self.evidence)}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def _dmi(root: Path) -> tuple[str | None, str | None, bool]:
    """Return (hypervisor, evidence, any DMI file read) from the DMI strings."""
    any_read = False
    dmi = root / "sys/class/dmi/id"
    for name in DMI_FIELDS:
        value = _read(dmi / name)
        if value is None:
            continue
        any_read = True
        for prefix, hypervisor in DMI_VENDORS:
            if value.startswith(prefix):
                return hypervisor, f"DMI {name} {value!r}", True
    vendor = _read(dmi / "sys_vendor") or ""
    product = _read(dmi / "product_name") or ""
    if vendor.startswith("Microsoft Corporation") and product.startswith("Virtual Machine"):
        return "microsoft", f"DMI sys_vendor {vendor!r}, product_name {product!r}", True
    return None, None, any_read


def _xen(root: Path) -> str | None:
    if (_read(root / "sys/hypervisor/type") or "") == "xen":
        return "/sys/hypervisor/type 'xen'"
    if (root / "proc/xen").exists():
        return "/proc/xen exists"
    return None


def _cpuid_flag(root: Path) -> bool | None:
    """The `hypervisor` flag of /proc/cpuinfo; None when cpuinfo is unreadable."""
    text = _read(root / "proc/cpuinfo")
    if text is None:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return "hypervisor" in value.split()
    return False


def _clocksource(root: Path) -> tuple[str | None, str | None]:
    path = root / "sys/devices/system/clocksource/clocksource0/available_clocksource"
    for source in (_read(path) or "").split():
        for prefix, hypervisor in CLOCKSOURCES:
            if source.startswith(prefix):
                return hypervisor, f"clock source {source!r}"
    return None, None


def detect_virtualization(root: Path = Path("/")) -> Virtualization:
    """Say whether the machine under `root` is a VM and, where it shows, its hypervisor."""
    hypervisor, dmi_evidence, dmi_read = _dmi(root)
    evidence = [dmi_evidence] if dmi_evidence else []
    xen = _xen(root)
    if xen:
        hypervisor = hypervisor or "xen"
        evidence.append(xen)
    flag = _cpuid_flag(root)
    if flag:
        evidence.append("CPUID hypervisor flag in /proc/cpuinfo")
    clock, clock_evidence = _clocksource(root)
    if clock_evidence and (flag or hypervisor):
        hypervisor = hypervisor or clock
        evidence.append(clock_evidence)
    if evidence:
        return Virtualization(True, hypervisor, tuple(evidence))
    if flag is None and not dmi_read:
        return Virtualization(None)
    return Virtualization(False, None, ("no hypervisor in DMI, CPUID flag or Xen files",))


def virt_availability(found: Virtualization, *, host_curve: bool = False) -> Availability:
    """Return `finwatt doctor`'s line: VM or not, and which power model applies.

    Args:
        found: the detection result.
        host_curve: whether a host power curve and VM share are configured.
    """
    if found.vm is None:
        return Availability(
            "virt",
            FamilyState.NOT_READABLE,
            "neither /proc/cpuinfo nor /sys/class/dmi/id is readable: cannot tell VM from "
            "bare metal",
            "run where /proc and /sys are mounted",
        )
    why = "; ".join(found.evidence)
    if not found.vm:
        return Availability(
            "virt",
            FamilyState.NOT_FOUND,
            f"bare metal ({why}): RAPL and the BMC measure this machine directly",
        )
    name = found.hypervisor or "hypervisor not named"
    if host_curve:
        return Availability(
            "virt",
            FamilyState.FOUND,
            f"VM ({name}; {why}): CPU power is estimated:host-curve, the host's curve "
            "apportioned by this VM's share",
        )
    return Availability(
        "virt",
        FamilyState.FOUND,
        f"VM ({name}; {why}): the host's RAPL and BMC are out of reach, so CPU power is "
        "a TDP or per-vCPU model",
        HOST_CURVE_FIX,
    )

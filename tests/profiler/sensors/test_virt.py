"""Hypervisor detection over fake DMI, /proc and /sys trees, and on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.sensors.base import FamilyState
from profiler.sensors.virt import detect_virtualization, virt_availability

BARE_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sep"


def _tree(
    root: Path,
    dmi: dict[str, str],
    *,
    hypervisor_flag: bool = True,
    clocksources: str = "tsc hpet acpi_pm",
) -> Path:
    for name, value in dmi.items():
        path = root / "sys/class/dmi/id" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    flags = BARE_FLAGS + (" hypervisor" if hypervisor_flag else "")
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc/cpuinfo").write_text(f"processor\t: 0\nflags\t\t: {flags}\n\n")
    clock = root / "sys/devices/system/clocksource/clocksource0/available_clocksource"
    clock.parent.mkdir(parents=True, exist_ok=True)
    clock.write_text(clocksources + "\n")
    return root


@pytest.mark.parametrize(
    ("dmi", "hypervisor"),
    [
        ({"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)"}, "qemu"),
        ({"sys_vendor": "Red Hat", "product_name": "KVM"}, "kvm"),
        ({"sys_vendor": "VMware, Inc.", "product_name": "VMware Virtual Platform"}, "vmware"),
        ({"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine"}, "microsoft"),
        ({"sys_vendor": "Xen", "product_name": "HVM domU"}, "xen"),
        ({"sys_vendor": "Amazon EC2", "product_name": "m5.large"}, "amazon"),
    ],
)
def test_dmi_names_the_hypervisor(tmp_path: Path, dmi: dict[str, str], hypervisor: str) -> None:
    found = detect_virtualization(_tree(tmp_path, dmi))
    assert found.vm is True
    assert found.hypervisor == hypervisor
    assert any(line.startswith("DMI ") for line in found.evidence)


def test_xen_pv_guest_without_dmi_is_found_by_sys_hypervisor(tmp_path: Path) -> None:
    root = _tree(tmp_path, {}, hypervisor_flag=False, clocksources="xen tsc")
    (root / "sys/hypervisor").mkdir(parents=True)
    (root / "sys/hypervisor/type").write_text("xen\n")
    found = detect_virtualization(root)
    assert (found.vm, found.hypervisor) == (True, "xen")


def test_bare_metal_dell_is_not_a_vm(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R750"},
        hypervisor_flag=False,
    )
    found = detect_virtualization(root)
    assert found.vm is False and found.hypervisor is None
    availability = virt_availability(found)
    assert availability.state is FamilyState.NOT_FOUND
    assert availability.reason.startswith("bare metal")


def test_hypervisor_flag_and_kvm_clock_without_dmi_is_kvm(tmp_path: Path) -> None:
    found = detect_virtualization(_tree(tmp_path, {}, clocksources="tsc kvm-clock"))
    assert (found.vm, found.hypervisor) == (True, "kvm")


def test_kvm_clock_alone_on_bare_metal_is_not_evidence(tmp_path: Path) -> None:
    # kvm-clock is a guest clock source; listed without the CPUID flag, it proves nothing.
    found = detect_virtualization(
        _tree(tmp_path, {"sys_vendor": "HPE"}, hypervisor_flag=False, clocksources="kvm-clock")
    )
    assert found.vm is False


def test_nothing_readable_is_unknown_not_bare_metal(tmp_path: Path) -> None:
    found = detect_virtualization(tmp_path)
    assert found.vm is None
    assert virt_availability(found).state is FamilyState.NOT_READABLE


def test_vm_without_host_curve_says_how_to_configure_it(tmp_path: Path) -> None:
    found = detect_virtualization(_tree(tmp_path, {"sys_vendor": "QEMU"}))
    availability = virt_availability(found)
    assert availability.state is FamilyState.FOUND
    assert "TDP or per-vCPU model" in availability.reason
    assert availability.fix is not None and "host_curve" in availability.fix
    configured = virt_availability(found, host_curve=True)
    assert "estimated:host-curve" in configured.reason and configured.fix is None


def test_this_machine_is_a_kvm_guest() -> None:
    # The CI and development machines are Firecracker/KVM guests: no DMI, but the CPUID
    # flag and kvm-clock (systemd-detect-virt --vm says "kvm" on such a guest).
    cpuinfo = Path("/proc/cpuinfo").read_text()
    if " hypervisor" not in cpuinfo:
        pytest.skip("not a VM: this check is for the project's VM machines")
    found = detect_virtualization()
    assert found.vm is True
    assert "CPUID hypervisor flag in /proc/cpuinfo" in found.evidence

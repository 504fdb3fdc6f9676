"""The run inventory over a fake /proc + /sys tree, through the fake NVML, and on this machine."""

from __future__ import annotations

import platform
from pathlib import Path

from profiler.sensors.inventory import collect_inventory, firmware, inventory_changes
from profiler.sensors.nvml.family import NvmlSensors
from profiler.settings.config import Settings
from profiler.store.database import Store
from profiler.store.interchange import export_run, import_run
from profiler.workflows.inventory import config_hash, inventory_root
from tests.fakes.fake_pynvml import FakeGpu, FakeNvml


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _server(root: Path, microcode1: str = "0x2b000571") -> Path:
    _write(root, "proc/sys/kernel/osrelease", "5.14.0-427.el9.x86_64\n")
    _write(root, "proc/sys/kernel/version", "#1 SMP PREEMPT_DYNAMIC Fri May 24 2024\n")
    _write(root, "etc/os-release", 'NAME="RHEL"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4"\n')
    model = "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz"
    _write(
        root,
        "proc/cpuinfo",
        f"processor\t: 0\nmodel name\t: {model}\nmicrocode\t: 0x2b000571\n\n"
        f"processor\t: 1\nmodel name\t: {model}\nmicrocode\t: {microcode1}\n\n",
    )
    for cpu in (0, 1):
        base = f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
        _write(root, f"{base}/scaling_governor", "performance\n")
        _write(root, f"{base}/scaling_driver", "intel_pstate\n")
    _write(root, "sys/devices/system/cpu/intel_pstate/no_turbo", "1\n")
    dmi = {
        "bios_vendor": "Dell Inc.",
        "bios_version": "1.13.2",
        "bios_date": "03/12/2024",
        "sys_vendor": "Dell Inc.",
        "product_name": "PowerEdge R750",
        "board_name": "0PJ7YJ",
    }
    for name, value in dmi.items():
        _write(root, f"sys/class/dmi/id/{name}", value + "\n")
    return root


def test_fake_server_tree_gives_every_item(tmp_path: Path) -> None:
    inventory = collect_inventory(_server(tmp_path), runner=None)
    assert inventory == {
        "kernel": "5.14.0-427.el9.x86_64",
        "kernel_build": "#1 SMP PREEMPT_DYNAMIC Fri May 24 2024",
        "os": "Red Hat Enterprise Linux 9.4",
        "cpu_model": "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz",
        "cpu_microcode": "0x2b000571",
        "cpu_governor": "performance",
        "cpu_freq_driver": "intel_pstate",
        "cpu_turbo": "off",
        "bios_vendor": "Dell Inc.",
        "bios_version": "1.13.2",
        "bios_date": "03/12/2024",
        "system_vendor": "Dell Inc.",
        "system_product": "PowerEdge R750",
        "board_name": "0PJ7YJ",
    }


def test_cpus_on_different_microcode_say_mixed(tmp_path: Path) -> None:
    inventory = collect_inventory(_server(tmp_path, microcode1="0x2b000590"), runner=None)
    assert inventory["cpu_microcode"] == "mixed: 0x2b000571, 0x2b000590"


def test_amd_boost_file_gives_turbo_state(tmp_path: Path) -> None:
    _write(tmp_path, "sys/devices/system/cpu/cpufreq/boost", "1\n")
    assert collect_inventory(tmp_path, runner=None)["cpu_turbo"] == "on"


def test_dmidecode_is_asked_only_without_dmi_files_and_without_a_shell(tmp_path: Path) -> None:
    asked: list[list[str]] = []

    def runner(args: list[str]) -> str | None:
        asked.append(args)
        return "U30" if args[-1] == "bios-version" else None

    assert firmware(tmp_path, runner)["bios_version"] == "U30"
    assert ["dmidecode", "-s", "bios-version"] in asked
    asked.clear()
    assert firmware(_server(tmp_path / "dell"), runner)["bios_version"] == "1.13.2"
    assert asked == []


def test_an_empty_tree_gives_none_not_guesses(tmp_path: Path) -> None:
    inventory = collect_inventory(tmp_path, runner=None)
    assert set(inventory.values()) == {None}


def test_gpu_driver_and_cuda_versions_come_from_nvml() -> None:
    sensors = NvmlSensors(
        FakeNvml([FakeGpu()], driver_version="535.183.01", cuda_driver_version=12020)
    )
    try:
        assert sensors.versions() == ("535.183.01", "12.2")
        assert "(driver 535.183.01, CUDA 12.2)" in sensors.availability().reason
    finally:
        sensors.close()


def test_changes_list_only_what_differs() -> None:
    before = {"kernel": "6.1", "cpu_microcode": "0x1", "gpu_driver": None}
    after = {"kernel": "6.1", "cpu_microcode": "0x2", "bmc_firmware": "7.10"}
    assert inventory_changes(before, after) == [
        ("cpu_microcode", "0x1", "0x2"),
        ("bmc_firmware", None, "7.10"),
    ]


def test_store_round_trips_an_inventory(tmp_path: Path) -> None:
    inventory = collect_inventory(_server(tmp_path / "root"), runner=None)
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("monitor", status="complete")
        assert store.inventory.for_run(run.id) is None
        store.inventory.add(run.id, inventory)
        assert store.inventory.for_run(run.id) == inventory


def test_root_and_config_hash_follow_the_settings(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "f.db", tmp_path / "sys", None, None)
    assert inventory_root(settings) == tmp_path
    other = Settings(tmp_path / "g.db", tmp_path / "sys", 205.0, None)
    assert config_hash(settings) == config_hash(
        Settings(tmp_path / "g.db", tmp_path / "sys", None, None)
    )
    assert config_hash(settings) != config_hash(other)


def test_this_machine_reports_its_kernel_and_cpu() -> None:
    inventory = collect_inventory()
    assert inventory["kernel"] == platform.release()
    assert inventory["cpu_model"]


def test_inventory_survives_export_and_import(tmp_path: Path) -> None:
    inventory = collect_inventory(_server(tmp_path / "root"), runner=None)
    with Store(tmp_path / "a.db") as store:
        run = store.runs.create("monitor", status="complete")
        store.inventory.add(run.id, inventory)
        document = export_run(store, run.id)
    assert document["run"]["inventory"] == inventory
    with Store(tmp_path / "b.db") as other:
        imported = import_run(other, document)
        assert other.inventory.for_run(imported) == inventory

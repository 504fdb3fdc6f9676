"""The /proc process table and the cgroup recognisers and limits (docs/attribution.md).

The recognisers and limits read fake /proc and cgroup trees under an injected root (the
lowest seam: we have no Kubernetes, Docker or Slurm here); the process table is also read
from this machine's real /proc with a real burner process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from profiler.sensors.cgroups import cgroup_limits, count_cpus, recognise
from profiler.sensors.processes import CLK_TCK, PAGE_BYTES, ProcessTable, cgroup_of, parse_stat

POD_UID = "0f0e1a2b-1111-2222-3333-444455556666"
CTR = "4f1a2b3c4d5e" + "a" * 52


def stat_line(pid: int, comm: str, *, ppid: int = 1, utime: int = 0, stime: int = 0) -> str:
    """A /proc/<pid>/stat line with proc(5)'s field positions (rss 256 pages)."""
    rest = ["S", str(ppid)] + ["0"] * 9 + [str(utime), str(stime)] + ["0"] * 6
    rest += ["12345", "0", "256"] + ["0"] * 28
    return f"{pid} ({comm}) {' '.join(rest)}\n"


def fake_process(
    root: Path, pid: int, cgroup_text: str, *, comm: str = "job", utime: int = 0
) -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True)
    (folder / "stat").write_text(stat_line(pid, comm, utime=utime))
    (folder / "cmdline").write_bytes(f"/usr/bin/{comm}\0--flag\0".encode())
    (folder / "cgroup").write_text(cgroup_text)


def test_parse_stat_reads_a_command_name_holding_spaces_and_parentheses() -> None:
    stat = parse_stat(stat_line(42, "my (odd) job", ppid=7, utime=250, stime=50).encode())
    assert (stat.pid, stat.ppid, stat.comm) == (42, 7, "my (odd) job")
    assert stat.cpu_s == pytest.approx(300 / CLK_TCK)
    assert stat.rss_bytes == 256 * PAGE_BYTES
    assert stat.start_ticks == 12345


def test_cgroup_of_takes_v2_line_or_the_v1_cpu_controller_path() -> None:
    assert cgroup_of("0::/system.slice/nginx.service\n") == "/system.slice/nginx.service"
    v1 = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/def\n1:name=systemd:/x.scope\n0::/\n"
    assert cgroup_of(v1) == "/docker/def"
    assert cgroup_of("3:cpu:/\n2:memory:/slurm/job_1\n0::/\n") == "/slurm/job_1"
    assert cgroup_of("0::/\n") == "/"


CASES = [
    # (the /proc/<pid>/cgroup text, kind, name, details)
    (
        f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
        f"{POD_UID.replace('-', '_')}.slice/cri-containerd-{CTR}.scope\n",
        "kubernetes",
        f"pod:{POD_UID}",
        {"qos": "burstable", "container": CTR[:12]},
    ),
    (
        f"11:cpu,cpuacct:/kubepods/besteffort/pod{POD_UID}/{CTR}\n0::/\n",
        "kubernetes",
        f"pod:{POD_UID}",
        {"qos": "besteffort", "container": CTR[:12]},
    ),
    (
        f"0::/kubepods.slice/kubepods-pod{POD_UID.replace('-', '_')}.slice/docker-{CTR}.scope\n",
        "kubernetes",
        f"pod:{POD_UID}",
        {"qos": "guaranteed", "container": CTR[:12]},
    ),
    (f"4:cpu,cpuacct:/docker/{CTR}\n0::/\n", "docker", CTR[:12], {}),
    (f"0::/system.slice/docker-{CTR}.scope\n", "docker", CTR[:12], {}),
    (f"0::/system.slice/cri-containerd-{CTR}.scope\n", "containerd", CTR[:12], {}),
    (f"3:cpu,cpuacct:/k8s.io/{CTR}\n0::/\n", "containerd", CTR[:12], {"namespace": "k8s.io"}),
    ("0::/system.slice/nginx.service\n", "systemd", "nginx.service", {}),
    (
        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.scope\n",
        "systemd",
        "app-foo.scope",
        {},
    ),
    (
        "4:cpu,cpuacct:/slurm/uid_1000/job_4242/step_0/task_0\n0::/\n",
        "slurm",
        "job_4242",
        {"uid": "1000"},
    ),
    ("0::/system.slice/slurmstepd.scope/job_77/step_batch/user/task_0\n", "slurm", "job_77", {}),
    ("0::/\n", "cgroup", "/", {}),
]


@pytest.mark.parametrize(("text", "kind", "name", "details"), CASES)
def test_each_recogniser_names_the_owner_of_a_process_in_a_fake_proc_tree(
    tmp_path: Path, text: str, kind: str, name: str, details: dict[str, str]
) -> None:
    fake_process(tmp_path, 4321, text, comm="risk")
    (info,) = ProcessTable(tmp_path).read()
    owner = recognise(info.cgroup)
    assert (owner.kind, owner.name, owner.details) == (kind, name, details)
    assert info.cmdline == "/usr/bin/risk --flag"


def test_the_table_skips_a_process_that_vanished_and_forgets_its_details(tmp_path: Path) -> None:
    fake_process(tmp_path, 10, "0::/a.service\n")
    fake_process(tmp_path, 11, "0::/b.service\n")
    (tmp_path / "12").mkdir()  # exited between the listing and the read: no stat file
    (tmp_path / "self").mkdir()
    table = ProcessTable(tmp_path)
    assert sorted(p.stat.pid for p in table.read()) == [10, 11]
    for name in ("stat", "cmdline", "cgroup"):
        (tmp_path / "11" / name).unlink()
    (tmp_path / "11").rmdir()
    assert [p.stat.pid for p in table.read()] == [10]
    assert len(table._extra) == 1


def test_the_real_proc_table_finds_a_burner_and_its_cpu_time_grows() -> None:
    burner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 30\nwhile time.time() < end: pass"]
    )
    try:
        table = ProcessTable()
        time.sleep(0.5)
        first = {p.stat.pid: p for p in table.read()}[burner.pid]
        time.sleep(1.0)
        second = {p.stat.pid: p for p in table.read()}[burner.pid]
    finally:
        burner.kill()
        burner.wait()
    assert first.stat.ppid == os.getpid()
    assert "while time.time() < end" in first.cmdline
    assert first.stat.rss_bytes > 0
    # it wants a whole core for 1 s; on a shared 2-core host it may get much less
    assert second.stat.cpu_s - first.stat.cpu_s >= 0.05


def test_count_cpus_reads_cpuset_lists() -> None:
    assert count_cpus("0-3,8,10-11") == 7
    assert count_cpus("") is None


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_limits_take_the_tightest_of_the_cgroup_and_its_ancestors(tmp_path: Path) -> None:
    mount = tmp_path / "cgroup"
    write(mount / "cgroup.controllers", "cpuset cpu memory\n")
    write(mount / "cpu.max", "max 100000\n")
    write(mount / "memory.max", "max\n")
    pod = mount / "kubepods.slice" / "pod.slice"
    write(pod / "cpu.max", "400000 100000\n")
    write(pod / "memory.max", str(2 * 2**30))
    ctr = pod / "ctr.scope"
    write(ctr / "cpu.max", "150000 100000\n")
    write(ctr / "memory.max", str(4 * 2**30))
    write(ctr / "cpuset.cpus.effective", "0-3\n")
    write(tmp_path / "proc" / "self" / "cgroup", "0::/kubepods.slice/pod.slice/ctr.scope\n")
    limits = cgroup_limits(mount, tmp_path / "proc")
    assert limits is not None and limits.version == 2
    assert limits.cpu_quota_cores == 1.5 and limits.cpuset_cpus == 4 and limits.cores == 1.5
    assert limits.memory_max_bytes == 2 * 2**30  # the pod's limit is tighter than the container's
    assert any("cpu.max: 150000 100000" in s for s in limits.sources)


def test_v2_inside_a_cgroup_namespace_reads_the_mount_itself(tmp_path: Path) -> None:
    mount = tmp_path / "cgroup"
    write(mount / "cgroup.controllers", "cpu memory\n")
    write(mount / "cpu.max", "200000 100000\n")
    write(mount / "memory.max", "1073741824\n")
    write(tmp_path / "proc" / "self" / "cgroup", "0::/\n")
    limits = cgroup_limits(mount, tmp_path / "proc")
    assert limits is not None
    assert (limits.cores, limits.memory_max_bytes) == (2.0, 2**30)


def test_v1_limits_read_cfs_quota_cpuset_and_memory_limit(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    docker = f"/docker/{CTR}"
    write(root / f"cpu,cpuacct{docker}" / "cpu.cfs_quota_us", "50000\n")
    write(root / f"cpu,cpuacct{docker}" / "cpu.cfs_period_us", "100000\n")
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    write(root / f"memory{docker}" / "memory.limit_in_bytes", "536870912\n")
    write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    write(root / f"cpuset{docker}" / "cpuset.cpus", "2-3\n")
    write(
        tmp_path / "proc" / "self" / "cgroup",
        f"9:memory:{docker}\n4:cpu,cpuacct:{docker}\n3:cpuset:{docker}\n0::/\n",
    )
    limits = cgroup_limits(root, tmp_path / "proc")
    assert limits is not None and limits.version == 1
    assert (limits.cpu_quota_cores, limits.cpuset_cpus, limits.cores) == (0.5, 2, 0.5)
    assert limits.memory_max_bytes == 512 * 2**20


def test_v1_without_limits_reports_none_of_them(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    write(tmp_path / "proc" / "self" / "cgroup", "4:cpu:/\n9:memory:/\n0::/\n")
    limits = cgroup_limits(root, tmp_path / "proc")
    assert limits is not None
    assert (limits.cores, limits.memory_max_bytes) == (None, None)


def test_no_cgroup_mount_means_no_limits(tmp_path: Path) -> None:
    write(tmp_path / "proc" / "self" / "cgroup", "0::/\n")
    assert cgroup_limits(tmp_path / "absent", tmp_path / "proc") is None

"""cgroups: who a cgroup path belongs to, and the CPU and memory limits of our own cgroup.

`recognise(path)` names the owner of a process's cgroup path (from
`profiler.sensors.processes.cgroup_of`): a Kubernetes pod (UID and QoS class), a Docker
or containerd (CRI) container, a Slurm job, or a systemd unit, for cgroup v1 and v2 and
for both the `cgroupfs` and the `systemd` cgroup drivers. The layouts (cgroupfs driver;
systemd driver), the first match winning:

- Kubernetes pod: `/kubepods/burstable/pod<uid>/<ctr>`;
  `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/
  cri-containerd-<id>.scope` (`kubepods-pod<uid_>.slice` when guaranteed).
- Docker: `/docker/<id>`; `/system.slice/docker-<id>.scope`.
- containerd, CRI-O: `/<namespace>/<id>` (64 hex digits);
  `/system.slice/cri-containerd-<id>.scope`, `crio-<id>.scope`.
- Slurm: `/slurm/uid_<u>/job_<j>/step_<s>`; `/system.slice/slurmstepd.scope/job_<j>/...`.
- systemd unit (the deepest service or scope, else slice): `/system.slice/nginx.service`,
  `/user.slice/user-1000.slice/session-3.scope`.

A pod without a QoS level in its path is `guaranteed` (the kubelet puts guaranteed pods
straight under `kubepods`). Check by hand: `cat /proc/<pid>/cgroup`, `systemd-cgls`.

`cgroup_limits` reads the CPU quota, cpuset and memory limit of this process's own
cgroup and its ancestors (the tightest wins): v2 `cpu.max`, `cpuset.cpus.effective`,
`memory.max`; v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`, `cpuset.cpus`,
`memory.limit_in_bytes`. Inside a container these are what was provisioned, not the
host's cores and memory that /proc shows (codecarbon#629).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.sensors.processes import cgroup_of

_HEX_ID = r"[0-9a-f]{64}"
_POD = re.compile(
    r"kubepods(?:[/-](?P<qos>burstable|besteffort))?(?:\.slice)?/"
    r"(?:kubepods-(?:burstable-|besteffort-)?)?pod(?P<uid>[0-9a-f_-]{36})(?:\.slice)?"
    r"(?:/(?:(?:cri-containerd|docker|crio)-)?(?P<ctr>[0-9a-f]{12,64})(?:\.scope)?)?"
)
_DOCKER = re.compile(rf"(?:/docker/|docker-)(?P<id>{_HEX_ID})")
_CRI = re.compile(rf"(?:cri-containerd-|crio-|containerd-)(?P<id>{_HEX_ID})\.scope")
_CONTAINERD_NS = re.compile(rf"^/(?P<ns>[a-z0-9][a-z0-9_.-]*)/(?P<id>{_HEX_ID})$")
_SLURM = re.compile(r"/(?:slurm(?:stepd\.scope)?|slurm)/(?:uid_(?P<uid>\d+)/)?job_(?P<job>\d+)")
_SYSTEMD = re.compile(r"[^/]+\.(?:service|scope|slice)$")

SHORT_ID_CHARS = 12
"""Container ids are shown like `docker ps` shows them: the first 12 hex digits."""

UNLIMITED_BYTES = 1 << 62
"""v1 reports "no memory limit" as a page-rounded 2^63 - 1; anything above this is none."""


@dataclass(frozen=True)
class CgroupOwner:
    """Who a cgroup path belongs to.

    Attributes:
        kind: `kubernetes`, `docker`, `containerd`, `slurm`, `systemd` or `cgroup`
            (recognised as none of these: `name` is then the path itself).
        name: a short name, bounded in length: `pod:<uid>`, the 12-digit container id,
            `job_<n>`, the systemd unit, or the path.
        path: the cgroup path it was recognised from.
        details: what else the path says: `qos` and `container` of a pod, `uid` of a
            Slurm job.
    """

    kind: str
    name: str
    path: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`kind:name` (`docker:4f1a2b3c4d5e`, `systemd:nginx.service`), for one column."""
        return f"{self.kind}:{self.name}"


def recognise(path: str) -> CgroupOwner:
    """Return the owner of a cgroup path (see the module's table)."""
    pod = _POD.search(path)
    if pod:
        details = {"qos": pod["qos"] or "guaranteed"}
        if pod["ctr"]:
            details["container"] = pod["ctr"][:SHORT_ID_CHARS]
        return CgroupOwner("kubernetes", f"pod:{pod['uid'].replace('_', '-')}", path, details)
    docker = _DOCKER.search(path)
    if docker:
        return CgroupOwner("docker", docker["id"][:SHORT_ID_CHARS], path)
    cri = _CRI.search(path)
    if cri:
        return CgroupOwner("containerd", cri["id"][:SHORT_ID_CHARS], path)
    slurm = _SLURM.search(path)
    if slurm:
        details = {"uid": slurm["uid"]} if slurm["uid"] else {}
        return CgroupOwner("slurm", f"job_{slurm['job']}", path, details)
    namespaced = _CONTAINERD_NS.match(path)
    if namespaced:
        return CgroupOwner(
            "containerd", namespaced["id"][:SHORT_ID_CHARS], path, {"namespace": namespaced["ns"]}
        )
    units = [part for part in path.split("/") if _SYSTEMD.match(part)]
    named = [u for u in units if not u.endswith(".slice")] or units
    if named:
        return CgroupOwner("systemd", named[-1], path)
    return CgroupOwner("cgroup", path or "/", path or "/")


@dataclass(frozen=True)
class CgroupLimits:
    """The CPU and memory limits of a cgroup (None: no limit of that kind).

    Attributes:
        version: 1 or 2.
        path: the cgroup path the limits were read for.
        cpu_quota_cores: CPU quota / period, in cores.
        cpuset_cpus: how many CPUs the cpuset allows.
        memory_max_bytes: the memory limit in bytes.
        sources: the file each limit came from, e.g. `cpu.max: 150000 100000`.
    """

    version: int
    path: str
    cpu_quota_cores: float | None = None
    cpuset_cpus: int | None = None
    memory_max_bytes: int | None = None
    sources: tuple[str, ...] = ()

    @property
    def cores(self) -> float | None:
        """The cores provisioned: the tighter of the quota and the cpuset (None: neither)."""
        limits = [c for c in (self.cpu_quota_cores, self.cpuset_cpus) if c is not None]
        return float(min(limits)) if limits else None

    def as_dict(self) -> dict[str, Any]:
        """Return the limits as plain JSON values."""
        return {
            "cgroup_version": self.version,
            "cgroup": self.path,
            "cores": self.cores,
            "cpu_quota_cores": self.cpu_quota_cores,
            "cpuset_cpus": self.cpuset_cpus,
            "memory_max_bytes": self.memory_max_bytes,
            "sources": list(self.sources),
        }


def count_cpus(cpulist: str) -> int | None:
    """Return how many CPUs a cpuset list names (`0-3,8,10-11` -> 7); None if empty."""
    total = 0
    for part in cpulist.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        total += int(high or low) - int(low) + 1
    return total or None


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ancestors(mount: Path, path: str) -> list[Path]:
    """Directories of `path` and its ancestors under `mount`, deepest first.

    Inside a cgroup namespace (a container) the path from /proc is `/` and the mount is
    already the container's own cgroup; a path that does not exist under the mount is
    read from the mount itself for the same reason.
    """
    parts = [p for p in path.split("/") if p]
    dirs = [mount.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]
    return [d for d in dirs if d.is_dir()] or [mount]


def _v2_limits(mount: Path, path: str) -> CgroupLimits:
    quota: float | None = None
    cpuset: int | None = None
    memory: int | None = None
    sources: list[str] = []
    for folder in _ancestors(mount, path):
        cpu_max = _text(folder / "cpu.max")
        if cpu_max and not cpu_max.startswith("max"):
            max_us, _, period_us = cpu_max.partition(" ")
            cores = int(max_us) / int(period_us or "100000")
            if quota is None or cores < quota:
                quota = cores
                sources.append(f"{folder / 'cpu.max'}: {cpu_max}")
        mem = _text(folder / "memory.max")
        if mem and mem != "max" and (memory is None or int(mem) < memory):
            memory = int(mem)
            sources.append(f"{folder / 'memory.max'}: {mem}")
        cpus = _text(folder / "cpuset.cpus.effective")
        if cpus and cpuset is None:
            cpuset = count_cpus(cpus)
            sources.append(f"{folder / 'cpuset.cpus.effective'}: {cpus}")
    return CgroupLimits(2, path, quota, cpuset, memory, tuple(sources))


def _v1_limits(root: Path, paths: dict[str, str]) -> CgroupLimits:
    quota: float | None = None
    cpuset: int | None = None
    memory: int | None = None
    sources: list[str] = []
    cpu_mount = next((root / m for m in ("cpu,cpuacct", "cpu") if (root / m).is_dir()), None)
    if cpu_mount is not None:
        for folder in _ancestors(cpu_mount, paths.get("cpu", "/")):
            quota_us = _text(folder / "cpu.cfs_quota_us")
            period_us = _text(folder / "cpu.cfs_period_us")
            if quota_us and period_us and int(quota_us) > 0:
                cores = int(quota_us) / int(period_us)
                if quota is None or cores < quota:
                    quota = cores
                    sources.append(f"{folder / 'cpu.cfs_quota_us'}: {quota_us}/{period_us}")
    for folder in _ancestors(root / "memory", paths.get("memory", "/")):
        mem = _text(folder / "memory.limit_in_bytes")
        if mem and int(mem) < UNLIMITED_BYTES and (memory is None or int(mem) < memory):
            memory = int(mem)
            sources.append(f"{folder / 'memory.limit_in_bytes'}: {mem}")
    for folder in _ancestors(root / "cpuset", paths.get("cpuset", "/")):
        cpus = _text(folder / "cpuset.cpus")
        if cpus:
            cpuset = count_cpus(cpus)
            sources.append(f"{folder / 'cpuset.cpus'}: {cpus}")
            break
    return CgroupLimits(1, paths.get("cpu", "/"), quota, cpuset, memory, tuple(sources))


def controller_paths(text: str) -> dict[str, str]:
    """Return controller -> path from a `/proc/<pid>/cgroup` file (v2's line under "")."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def cgroup_limits(
    cgroup_root: Path = Path("/sys/fs/cgroup"), proc_root: Path = Path("/proc")
) -> CgroupLimits | None:
    """Return the limits of this process's cgroup, or None where cgroups are unreadable.

    Args:
        cgroup_root: the cgroup mount (`<sysfs root>/fs/cgroup`); a v2 (unified) mount
            has `cgroup.controllers` at its top, a v1 one a folder per controller.
        proc_root: procfs, for `self/cgroup`.
    """
    text = _text(proc_root / "self" / "cgroup")
    if text is None or not cgroup_root.is_dir():
        return None
    if (cgroup_root / "cgroup.controllers").exists():
        return _v2_limits(cgroup_root, cgroup_of(text))
    return _v1_limits(cgroup_root, controller_paths(text))

"""MIG: which GPUs are partitioned, and their GPU instances as devices `gpu:N/mig:G`.

With Multi-Instance GPU enabled (A100, H100, H200), one physical GPU runs several GPU
instances, possibly for several tenants. NVML still measures power and energy for the
whole GPU only, and reports busy-time utilisation as unsupported. finwatt therefore keeps
the whole GPU's energy on `gpu:N` (every instance and tenant together) and lists each GPU
instance as its own device `gpu:N/mig:G` (G the GPU instance id) with no power of its
own; its memory and, where GPM supports it, its SM activity are measured per instance.
A GPU instance holding several compute instances is one device whose CUDA-visible MIG
devices (one per compute instance) are listed by UUID.

Check by hand: `nvidia-smi -L` lists the MIG devices with their UUIDs; `nvidia-smi mig -lgi`
lists the GPU instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from profiler.sensors.nvml.library import NvmlError, NvmlFailure, NvmlLibrary, text


@dataclass(frozen=True)
class MigMode:
    """MIG mode of one GPU: `current` and `pending` (after reset); None where unsupported."""

    current: bool | None
    pending: bool | None

    def describe(self) -> str:
        """Return "enabled", "disabled" or "unsupported", with a pending change if any."""
        if self.current is None:
            return "unsupported"
        now = "enabled" if self.current else "disabled"
        if self.pending is not None and self.pending != self.current:
            return f"{now} ({'enabled' if self.pending else 'disabled'} after a GPU reset)"
        return now


@dataclass(frozen=True)
class MigInstance:
    """One MIG GPU instance of a GPU.

    Attributes:
        gpu_instance_id: NVML's GPU instance id (G in `gpu:N/mig:G`).
        compute_instance_ids: the compute instances it holds (one MIG device each).
        uuids: the MIG devices' UUIDs (`MIG-...`), the names CUDA_VISIBLE_DEVICES takes.
        handle: the first MIG device's handle (memory is per GPU instance).
        name: NVML's name for it, e.g. "NVIDIA H100 80GB HBM3 MIG 1g.10gb".
        mem_total_bytes: the instance's memory.

    """

    gpu_instance_id: int
    compute_instance_ids: tuple[int, ...]
    uuids: tuple[str, ...]
    handle: Any
    name: str | None
    mem_total_bytes: int | None


def mig_mode(lib: NvmlLibrary, handle: Any) -> MigMode:
    """Read a GPU's MIG mode; unsupported GPUs (and lost answers) give None, None.

    Raises:
        NvmlError: the GPU is lost.

    """
    try:
        current, pending = lib.call("nvmlDeviceGetMigMode", handle)
    except NvmlError as err:
        if err.failure is NvmlFailure.LOST:
            raise
        return MigMode(None, None)
    enable = lib.constant("NVML_DEVICE_MIG_ENABLE")
    return MigMode(current == enable, pending == enable)


def mig_instances(lib: NvmlLibrary, handle: Any) -> list[MigInstance]:
    """List the GPU instances of a MIG-enabled GPU, ordered by GPU instance id.

    Empty MIG slots (NVML: not found) are skipped.

    Raises:
        NvmlError: the GPU is lost, or NVML cannot say how many MIG devices it may hold.

    """
    slots = int(lib.call("nvmlDeviceGetMaxMigDeviceCount", handle))
    by_gi: dict[int, list[tuple[int, str, Any]]] = {}
    for slot in range(slots):
        try:
            mig = lib.call("nvmlDeviceGetMigDeviceHandleByIndex", handle, slot)
        except NvmlError as err:
            if err.failure in (NvmlFailure.NOT_FOUND, NvmlFailure.OTHER):
                continue
            raise
        gi = int(lib.call("nvmlDeviceGetGpuInstanceId", mig))
        ci = int(lib.call("nvmlDeviceGetComputeInstanceId", mig))
        uuid = text(lib.call("nvmlDeviceGetUUID", mig))
        by_gi.setdefault(gi, []).append((ci, uuid, mig))
    instances = []
    for gi, members in sorted(by_gi.items()):
        members.sort(key=lambda m: m[0])
        first = members[0][2]
        instances.append(
            MigInstance(
                gpu_instance_id=gi,
                compute_instance_ids=tuple(ci for ci, _, _ in members),
                uuids=tuple(uuid for _, uuid, _ in members),
                handle=first,
                name=_optional(lambda h=first: text(lib.call("nvmlDeviceGetName", h))),
                mem_total_bytes=_optional(
                    lambda h=first: int(lib.call("nvmlDeviceGetMemoryInfo", h).total)
                ),
            )
        )
    return instances


def _optional(query: Any) -> Any:
    """Run a one-off query; None when NVML cannot answer it."""
    try:
        return query()
    except NvmlError as err:
        if err.failure is NvmlFailure.LOST:
            raise
        return None

"""Which CUDA ordinal is a given GPU: from its UUID, as CUDA_VISIBLE_DEVICES lets CUDA see it.

The profiler names GPUs by NVML index (`gpu:N`, PCI bus order) and records each GPU's
UUID. A workload process asks CUDA for a device by ordinal, and CUDA numbers only the
GPUs it can see: those `CUDA_VISIBLE_DEVICES` selects, in the order it lists them, and
otherwise fastest first (`CUDA_DEVICE_ORDER=FASTEST_FIRST`, the default), not in PCI
order. An NVML index reused as a CUDA ordinal therefore reads one GPU's energy while
another works. Zeus and nvitop map by UUID for this reason; so does finwatt: a workload
asked for `gpu:GPU-8a1b...` (or `gpu:MIG-...`) finds its ordinal with `cuda_ordinal`
among the UUIDs the CUDA runtime reports for ordinals 0, 1, ... of this process.

`visible_uuids` applies CUDA's own rules for `CUDA_VISIBLE_DEVICES` to an enumeration, for
checks where no CUDA runtime is at hand (bench/gpu_check.sh compares the two). Rules, from
the CUDA C++ Programming Guide, "CUDA Environment Variables": a comma-separated list of
indices or UUIDs (a unique prefix of a UUID suffices, MIG devices as `MIG-<uuid>`); the
devices are enumerated in the list's order; at the first invalid entry (unknown, ambiguous
or repeated) the list ends, and only the devices before it are visible. Unset means all.

Check by hand: `nvidia-smi -L` prints each GPU's UUID, and
`python -c "import torch; print(torch.cuda.get_device_properties(0).uuid)"` the UUID of
CUDA ordinal 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["UuidNotVisible", "cuda_ordinal", "runtime_uuids", "uuid_key", "visible_uuids"]

_HEX = re.compile(r"[0-9a-f]+")


class UuidNotVisible(LookupError):  # noqa: N818 - reads as what happened
    """The GPU with that UUID is not among the GPUs CUDA sees in this process."""


def uuid_key(uuid: Any) -> str:
    """Return a GPU UUID as 32 lowercase hex digits, whatever form it came in.

    Accepts NVML's text (`GPU-8a1b...`, `MIG-...`), CUDA's 16 raw bytes (CuPy's
    `getDeviceProperties()["uuid"]`), or an object with a `bytes` attribute (PyTorch's
    `_CUuuid`) or whose text is the hyphenated hex (its `str()`).
    """
    if isinstance(uuid, bytes | bytearray):
        return bytes(uuid).hex()
    raw = getattr(uuid, "bytes", None)
    if isinstance(raw, bytes | bytearray | list | tuple):
        return bytes(bytearray(raw)).hex()
    text = str(uuid).strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.replace("-", "")


def cuda_ordinal(uuid: str, cuda_uuids: Sequence[Any]) -> int:
    """Return the CUDA ordinal of the GPU with `uuid` among the GPUs CUDA reports.

    Args:
        uuid: the GPU's UUID as NVML gives it (`GPU-...` or `MIG-...`).
        cuda_uuids: the UUID of CUDA ordinal 0, 1, ... in this process (any form
            `uuid_key` reads), CUDA_VISIBLE_DEVICES already applied by the runtime.

    Raises:
        UuidNotVisible: no ordinal has that UUID (the message lists what CUDA sees).

    """
    key = uuid_key(uuid)
    keys = [uuid_key(u) for u in cuda_uuids]
    if key in keys:
        return keys.index(key)
    seen = ", ".join(f"{i}: {k[:8]}" for i, k in enumerate(keys)) or "no GPU"
    raise UuidNotVisible(
        f"GPU {uuid} is not visible to CUDA in this process (CUDA sees {seen}; "
        "check CUDA_VISIBLE_DEVICES)"
    )


def visible_uuids(cuda_visible_devices: str | None, cuda_order_uuids: Sequence[str]) -> list[str]:
    """Return the UUIDs CUDA ordinals 0, 1, ... name under `cuda_visible_devices`.

    Args:
        cuda_visible_devices: the variable's value; None when unset.
        cuda_order_uuids: every GPU's UUID in CUDA's enumeration order before the variable
            applies: NVML/PCI order under `CUDA_DEVICE_ORDER=PCI_BUS_ID`.

    Returns:
        The visible GPUs' UUIDs (as given in `cuda_order_uuids`), ordinal order.

    """
    if cuda_visible_devices is None:
        return list(cuda_order_uuids)
    visible: list[str] = []
    for entry in cuda_visible_devices.split(","):
        found = _entry_uuid(entry.strip(), cuda_order_uuids)
        if found is None or found in visible:
            break  # CUDA ignores this entry and every one after it
        visible.append(found)
    return visible


def _entry_uuid(entry: str, uuids: Sequence[str]) -> str | None:
    """The UUID one CUDA_VISIBLE_DEVICES entry names, None when it names none (or several)."""
    if entry.isdigit():
        index = int(entry)
        return uuids[index] if index < len(uuids) else None
    lowered = entry.lower()
    if not lowered.startswith(("gpu-", "mig-")):
        return None
    key = uuid_key(lowered)
    if not key or not _HEX.fullmatch(key):
        return None
    kind = lowered[:4]
    matches = [u for u in uuids if u.lower().startswith(kind) and uuid_key(u).startswith(key)]
    return matches[0] if len(matches) == 1 else None


def runtime_uuids(backend_name: str, module: Any) -> list[Any]:
    """Ask the CUDA runtime of CuPy or PyTorch for the UUID of each ordinal of this process.

    Raises:
        AttributeError: this CuPy or PyTorch does not report UUIDs (too old).
        KeyError: CuPy's device properties carry no "uuid" (built for CUDA < 10).

    """
    if backend_name == "cupy":
        count = int(module.cuda.runtime.getDeviceCount())
        return [module.cuda.runtime.getDeviceProperties(i)["uuid"] for i in range(count)]
    count = int(module.cuda.device_count())
    return [module.cuda.get_device_properties(i).uuid for i in range(count)]

"""GPU check, stages 1 and 2: the environment (nvidia-smi) and NVML's facts on this card.

Environment: which `nvidia-smi --query-gpu` fields this driver knows (energy, instant and
averaged power), their values, MIG and persistence mode, `nvidia-smi -L`.

NVML facts, through finwatt's own NVML boundary (`profiler.sensors.nvml.library`, so only
declared names are called):
- per-call latency of every call finwatt makes per tick (median and p99, microseconds);
- update periods: how often the energy counter, instant power and averaged power change
  when polled as fast as possible (NVML refreshes them on its own cadence);
- the CUDA <-> NVML mapping: each NVML index's UUID, the CUDA ordinal the CUDA runtime
  (torch or cupy) gives that UUID, and what `workloads.cuda_devices.visible_uuids`
  predicts from CUDA_VISIBLE_DEVICES in PCI order.

Run: python -m bench.gpu_facts --out DIR   (writes DIR/facts.json, prints a summary)
Tests drive every function here with tests/fakes/fake_pynvml.py.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from profiler.sensors.nvml.fields import average_power_w, instant_power_w
from profiler.sensors.nvml.library import NvmlError, NvmlLibrary, text
from workloads.cuda_devices import UuidNotVisible, cuda_ordinal, uuid_key, visible_uuids

Clock = Callable[[], float]
Runner = Callable[[Sequence[str]], str]

#: nvidia-smi fields worth recording, where this driver knows them (--help-query-gpu).
SMI_FIELDS = (
    "index",
    "name",
    "uuid",
    "pci.bus_id",
    "driver_version",
    "pstate",
    "persistence_mode",
    "mig.mode.current",
    "mig.mode.pending",
    "power.limit",
    "power.draw",
    "power.draw.average",
    "power.draw.instant",
    "total_energy_consumption",
    "clocks.sm",
    "temperature.gpu",
    "utilization.gpu",
    "memory.used",
    "memory.total",
)

_FIELD_LINE = re.compile(r'^"([A-Za-z0-9_.]+)"')


def run_command(argv: Sequence[str]) -> str:
    """Run a command and return its stdout; a failure returns its error text instead."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"!! {' '.join(argv)}: {err}"
    return done.stdout if done.returncode == 0 else f"!! {done.stdout}{done.stderr}".strip()


def smi_fields(help_text: str) -> set[str]:
    """Return the field names `nvidia-smi --help-query-gpu` lists (each quoted at line start)."""
    names = set()
    for line in help_text.splitlines():
        match = _FIELD_LINE.match(line.strip())
        if match:
            names.add(match.group(1))
        for alias in re.findall(r'or "([A-Za-z0-9_.]+)"', line):
            names.add(alias)
    return names


def environment(run: Runner = run_command) -> dict[str, Any]:
    """Stage 1: the driver's query fields, their values per GPU, and `nvidia-smi -L`."""
    known = smi_fields(run(["nvidia-smi", "--help-query-gpu"]))
    fields = [f for f in SMI_FIELDS if f in known]
    rows: list[dict[str, str]] = []
    if fields:
        csv = run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"])
        for line in csv.splitlines():
            if line.startswith("!!"):
                continue
            rows.append(dict(zip(fields, (v.strip() for v in line.split(",")), strict=False)))
    return {
        "fields_known": sorted(f for f in SMI_FIELDS if f in known),
        "fields_unknown": sorted(f for f in SMI_FIELDS if f not in known),
        "energy_field": "total_energy_consumption" if "total_energy_consumption" in known else None,
        "gpus": rows,
        "list": run(["nvidia-smi", "-L"]).strip(),
    }


def tick_calls(lib: NvmlLibrary, handle: Any) -> dict[str, Callable[[], object]]:
    """The NVML reads finwatt makes per GPU and tick, each as a no-argument call."""
    clock_sm = lib.constant("NVML_CLOCK_SM")
    sensor = lib.constant("NVML_TEMPERATURE_GPU")
    return {
        "power_instant": lambda: instant_power_w(lib, handle),
        "power_average": lambda: average_power_w(lib, handle),
        "energy_counter": lambda: lib.call("nvmlDeviceGetTotalEnergyConsumption", handle),
        "utilization": lambda: lib.call("nvmlDeviceGetUtilizationRates", handle),
        "memory": lambda: lib.call("nvmlDeviceGetMemoryInfo", handle),
        "clock_sm": lambda: lib.call("nvmlDeviceGetClockInfo", handle, clock_sm),
        "temperature": lambda: lib.call("nvmlDeviceGetTemperature", handle, sensor),
    }


def call_latency_us(
    calls: dict[str, Callable[[], object]], repeats: int = 200, clock: Clock = time.perf_counter
) -> dict[str, Any]:
    """Time each call `repeats` times: median and p99 in microseconds, or why it failed."""
    result: dict[str, Any] = {}
    for name, call in calls.items():
        times = []
        try:
            for _ in range(repeats):
                t0 = clock()
                call()
                times.append((clock() - t0) * 1e6)
        except NvmlError as err:
            result[name] = {"error": str(err)}
            continue
        times.sort()
        result[name] = {
            "median_us": statistics.median(times),
            "p99_us": times[min(len(times) - 1, int(0.99 * len(times)))],
            "calls": len(times),
        }
    return result


def update_period_s(
    read: Callable[[], float], seconds: float, clock: Clock = time.monotonic
) -> dict[str, Any]:
    """Poll `read` as fast as possible for `seconds`; how often does its value change?

    Returns the median and minimum time between changes (None when fewer than three
    changes were seen), the number of changes and of polls.
    """
    changes: list[float] = []
    start = clock()
    try:
        previous = read()
    except NvmlError as err:
        return {"error": str(err)}
    polls = 1
    while (now := clock()) - start < seconds:
        value = read()
        polls += 1
        if value != previous:
            changes.append(now)
            previous = value
    gaps = [b - a for a, b in itertools.pairwise(changes)]
    return {
        "median_s": statistics.median(gaps) if len(gaps) >= 2 else None,
        "min_s": min(gaps) if len(gaps) >= 2 else None,
        "changes": len(changes),
        "polls": polls,
    }


def nvml_uuids(lib: NvmlLibrary) -> list[str]:
    """Every GPU's UUID in NVML index order (PCI bus order)."""
    count = int(lib.call("nvmlDeviceGetCount"))
    return [
        text(lib.call("nvmlDeviceGetUUID", lib.call("nvmlDeviceGetHandleByIndex", i)))
        for i in range(count)
    ]


def uuid_mapping(
    nvml: Sequence[str], cuda: Sequence[Any] | None, cuda_visible_devices: str | None
) -> dict[str, Any]:
    """Map each NVML index to its CUDA ordinal by UUID, beside the PCI-order prediction.

    Args:
        nvml: UUIDs by NVML index.
        cuda: UUIDs the CUDA runtime reports by ordinal (None: no runtime here).
        cuda_visible_devices: the variable's value, None when unset.

    """
    predicted = visible_uuids(cuda_visible_devices, list(nvml))
    ordinals: dict[str, int | None] = {}
    for index, uuid in enumerate(nvml):
        try:
            ordinals[f"gpu:{index}"] = cuda_ordinal(uuid, cuda) if cuda is not None else None
        except UuidNotVisible:
            ordinals[f"gpu:{index}"] = None
    cuda_keys = None if cuda is None else [uuid_key(u) for u in cuda]
    return {
        "nvml_uuids": list(nvml),
        "cuda_uuid_keys": cuda_keys,
        "cuda_visible_devices": cuda_visible_devices,
        "cuda_ordinal_by_nvml_index": ordinals,
        "predicted_in_pci_order": [uuid_key(u) for u in predicted],
        "prediction_matches_runtime": None
        if cuda_keys is None
        else cuda_keys == [uuid_key(u) for u in predicted],
        "index_is_ordinal": None
        if cuda is None
        else all(o in (None, i) for i, o in enumerate(ordinals.values())),
    }


def runtime_cuda_uuids() -> tuple[str, list[Any]] | None:
    """Ask torch, else cupy, for the UUID of each CUDA ordinal; None without either."""
    for name in ("torch", "cupy"):
        try:
            module = importlib.import_module(name)
            if name == "torch":
                if not module.cuda.is_available():
                    continue
                count = module.cuda.device_count()
                return name, [module.cuda.get_device_properties(i).uuid for i in range(count)]
            count = module.cuda.runtime.getDeviceCount()
            return name, [module.cuda.runtime.getDeviceProperties(i)["uuid"] for i in range(count)]
        except (ImportError, OSError, RuntimeError, AttributeError):
            continue
    return None


def nvml_facts(
    lib: NvmlLibrary,
    cuda: tuple[str, list[Any]] | None,
    *,
    poll_s: float = 2.0,
    repeats: int = 200,
    clock: Clock = time.perf_counter,
) -> dict[str, Any]:
    """Stage 2: latency, update periods and the UUID mapping, for every GPU NVML lists."""
    lib.call("nvmlInit")
    try:
        uuids = nvml_uuids(lib)
        gpus = []
        for index in range(len(uuids)):
            handle = lib.call("nvmlDeviceGetHandleByIndex", index)
            calls = tick_calls(lib, handle)
            periods = {
                name: update_period_s(_as_number(calls[name]), poll_s, clock)
                for name in ("energy_counter", "power_instant", "power_average")
            }
            gpus.append(
                {
                    "device": f"gpu:{index}",
                    "uuid": uuids[index],
                    "latency": call_latency_us(calls, repeats, clock),
                    "update_period": periods,
                }
            )
        mapping = uuid_mapping(
            uuids, None if cuda is None else cuda[1], os.environ.get("CUDA_VISIBLE_DEVICES")
        )
        mapping["cuda_runtime"] = None if cuda is None else cuda[0]
        return {"gpus": gpus, "mapping": mapping}
    finally:
        lib.call("nvmlShutdown")


def _as_number(call: Callable[[], object]) -> Callable[[], float]:
    def read() -> float:
        return float(call())  # type: ignore[arg-type]

    return read


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    facts: dict[str, Any] = {"environment": environment()}
    import pynvml  # the real library: this stage runs on the GPU host

    try:
        cuda = runtime_cuda_uuids()
        facts["nvml"] = nvml_facts(NvmlLibrary(pynvml), cuda, poll_s=args.poll_seconds)
    except NvmlError as err:
        facts["nvml"] = {"error": str(err), "gpus": []}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "facts.json").write_text(json.dumps(facts, indent=2, default=str))
    env = facts["environment"]
    print(f"nvidia-smi energy field: {env['energy_field']}; unknown: {env['fields_unknown']}")
    for gpu in facts["nvml"]["gpus"]:
        lat = {k: round(v.get("median_us", -1), 1) for k, v in gpu["latency"].items()}
        per = {k: v.get("median_s") for k, v in gpu["update_period"].items()}
        print(f"{gpu['device']} {gpu['uuid']}: latency median us {lat}; update periods s {per}")
    print(f"mapping: {facts['nvml'].get('mapping')}; error: {facts['nvml'].get('error')}")


if __name__ == "__main__":
    main()

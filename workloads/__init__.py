"""Benchmark workloads for finwatt: risk (Monte-Carlo VaR/ES), inference, ledger.

`WORKLOADS` maps each workload name to its class; classes are imported on first use,
so importing this package stays cheap and a workload module is loaded only when asked
for. `workloads` imports nothing from `profiler` or `reports` (docs/design.md#layout).
"""

from __future__ import annotations

import collections.abc
import importlib

from workloads.base import (
    Backend,
    BackendUnavailable,
    Size,
    Workload,
    WorkloadError,
    parse_size,
    resolve_backend,
)

__all__ = [
    "WORKLOADS",
    "Backend",
    "BackendUnavailable",
    "Size",
    "Workload",
    "WorkloadError",
    "get_workload",
    "parse_size",
    "resolve_backend",
]

_CLASS_PATHS = {
    "risk": "workloads.risk.RiskWorkload",
    "inference": "workloads.inference.InferenceWorkload",
    "ledger": "workloads.ledger.LedgerWorkload",
}


class _Registry(collections.abc.Mapping[str, type[Workload]]):
    """Read-only name -> Workload class mapping that imports each class on first access."""

    def __init__(self, paths: collections.abc.Mapping[str, str]) -> None:
        self._paths = dict(paths)
        self._loaded: dict[str, type[Workload]] = {}

    def __getitem__(self, name: str) -> type[Workload]:
        if name not in self._loaded:
            module_name, _, class_name = self._paths[name].rpartition(".")
            try:
                cls = getattr(importlib.import_module(module_name), class_name)
            except (ImportError, AttributeError) as err:
                raise WorkloadError(
                    f"workload {name!r} is not available: cannot import {self._paths[name]} ({err})"
                ) from err
            if not (isinstance(cls, type) and issubclass(cls, Workload)):
                raise WorkloadError(f"{self._paths[name]} is not a Workload subclass")
            self._loaded[name] = cls
        return self._loaded[name]

    def __iter__(self) -> collections.abc.Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths


WORKLOADS: collections.abc.Mapping[str, type[Workload]] = _Registry(_CLASS_PATHS)
"""Workload classes by name: "risk", "inference", "ledger"."""


def get_workload(name: str) -> type[Workload]:
    """Return the Workload class called `name`.

    Raises:
        WorkloadError: no workload has that name (the message names the choices), or its
            module cannot be imported.

    """
    if name not in WORKLOADS:
        raise WorkloadError(f"unknown workload {name!r}: choose one of {', '.join(WORKLOADS)}")
    return WORKLOADS[name]

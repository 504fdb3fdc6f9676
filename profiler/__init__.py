"""finwatt's profiler: sensors, sampler, store, analysis and user interfaces.

The public Python API is `profiler.measure` (imported lazily, so importing a submodule
such as `profiler.analysis` loads no sensors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profiler.workflows.measure import Measurement, measure

__all__ = ["Measurement", "measure"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from profiler.workflows import measure as module

        return getattr(module, name)
    raise AttributeError(f"module 'profiler' has no attribute {name!r}")

"""Order statistics used throughout the analyzer (docs/methodology.md#usage-statistics)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def nearest_rank(values: Sequence[float] | npt.NDArray[np.float64], q: float) -> float | None:
    """Return the nearest-rank percentile: the value at rank ceil(q * n) of the sorted data.

    Args:
        values: the series (any order); NaN entries are absent values and skipped.
        q: the quantile in (0, 1].

    Returns:
        The percentile, or None when there are no values.

    Raises:
        ValueError: q is outside (0, 1].
    """
    if not 0 < q <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {q}")
    array = np.asarray(values, dtype=np.float64)
    finite = array[~np.isnan(array)]
    if finite.size == 0:
        return None
    rank = max(1, math.ceil(q * finite.size))
    return float(np.partition(finite, rank - 1)[rank - 1])

"""Order statistics used throughout the analyzer (methodology section 4)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """Return the nearest-rank percentile: the value at rank ceil(q * n) of the sorted data.

    Args:
        values: the series (any order); None when empty.
        q: the quantile in (0, 1].

    Raises:
        ValueError: q is outside (0, 1].

    """
    if not 0 < q <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]

"""The hold: how many sample intervals one power reading stands for (no numpy here).

Its own module so that the store's rollup SQL, which writes the hold into its queries,
loads without numpy (`finwatt runs` imports the store, not the energy arithmetic);
`profiler.model.energy` applies it.
"""

from __future__ import annotations

HOLD_INTERVALS = 2.0
"""A power reading stands for at most this many sample intervals before it (the hold):
after a gap (an outage, a stopped recorder) the rest of the gap is missing coverage, not
the next reading's power stretched over it."""

"""`store.samples`: the `sample` table and its minute rollups (`sample_minute`).

Writes (`add`) keep each minute's rollup up to date in the same transaction
(`profiler.store.rollup`); the reads are `SampleReads` (`profiler.store.sample_reads`).
The recorder writes through a `SampleWriter` (`profiler.store.writer`) instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from profiler.model.samples import SampleRow
from profiler.store.rollup import refresh_minutes
from profiler.store.rows import insert_samples
from profiler.store.sample_reads import SampleReads
from profiler.store.transactions import Repository


class Samples(Repository, SampleReads):
    """The samples and minute rollups of a `Store` (`store.samples`)."""

    def add(self, run_id: str, rows: Sequence[SampleRow]) -> None:
        """Insert sample rows and update their minutes' rollups in one transaction."""
        ranges: dict[str, tuple[float, float]] = {}
        for r in rows:
            lo, hi = ranges.get(r.device_id, (r.t, r.t))
            ranges[r.device_id] = (min(lo, r.t), max(hi, r.t))
        with self._transaction() as tx:
            insert_samples(tx, run_id, rows)
            for device_id, t_range in ranges.items():
                refresh_minutes(tx, run_id, device_id, t_range)

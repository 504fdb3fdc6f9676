"""`store.phases`: the `phase` table: a run's phases and their figures."""

from __future__ import annotations

from collections.abc import Sequence

from profiler.model.run import PhaseRecord
from profiler.store.rows import insert_phases, phase_from_row
from profiler.store.transactions import Repository


class Phases(Repository):
    """The `phase` rows of a `Store` (`store.phases`)."""

    def add(self, run_id: str, phase: PhaseRecord) -> None:
        """Insert one phase record."""
        with self._transaction() as tx:
            insert_phases(tx, run_id, [phase])

    def replace(self, run_id: str, phases: Sequence[PhaseRecord]) -> None:
        """Replace all of a run's phases in one transaction (after their figures are added)."""
        with self._transaction() as tx:
            tx.execute("DELETE FROM phase WHERE run_id = ?", (run_id,))
            insert_phases(tx, run_id, phases)

    def for_run(self, run_id: str) -> list[PhaseRecord]:
        """Return a run's phases in start order."""
        rows = self._conn.execute(
            "SELECT * FROM phase WHERE run_id = ? ORDER BY t_start, id", (run_id,)
        )
        return [phase_from_row(r) for r in rows]

"""`store.findings`: the `finding` table: a run's (or a `--since` window's) findings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from profiler.model.findings import Finding
from profiler.store.rows import finding_from_row, insert_findings
from profiler.store.transactions import Repository


class Findings(Repository):
    """The `finding` rows of a `Store` (`store.findings`)."""

    def replace(
        self,
        run_id: str | None,
        findings: Sequence[Finding],
        *,
        window_start: str | None = None,
        window_end: str | None = None,
    ) -> None:
        """Replace the findings of a run (or of a `--since` window) in one transaction.

        Each is stored as its JSON shape (`Finding.as_dict`), one column per key.
        """
        with self._transaction() as tx:
            if run_id is not None:
                tx.execute("DELETE FROM finding WHERE run_id = ?", (run_id,))
            else:
                tx.execute(
                    "DELETE FROM finding WHERE run_id IS NULL AND window_start IS ? "
                    "AND window_end IS ?",
                    (window_start, window_end),
                )
            documents = [f.as_dict() for f in findings]
            insert_findings(tx, run_id, documents, window_start, window_end)

    def for_run(
        self,
        run_id: str | None,
        *,
        window_start: str | None = None,
        window_end: str | None = None,
    ) -> list[dict[str, Any]]:
        """Return stored findings of a run (or `--since` window) as docs/design.md#findings.

        Objects, not `Finding` records: an imported run's findings keep what the
        interchange format allows and the analyzer never writes (a null device or
        confidence, a savings object of another shape), and export gives them back as
        they came.
        """
        if run_id is not None:
            rows = self._conn.execute(
                "SELECT * FROM finding WHERE run_id = ? ORDER BY id", (run_id,)
            )
        else:
            rows = self._conn.execute(
                "SELECT * FROM finding WHERE run_id IS NULL AND window_start IS ? "
                "AND window_end IS ? ORDER BY id",
                (window_start, window_end),
            )
        return [finding_from_row(r) for r in rows]

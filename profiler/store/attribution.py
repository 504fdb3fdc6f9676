"""`store.attribution`: `monitor --attribute`'s minutes.

The `attribution_minute` table holds one row per run, minute and group
(`profiler.model.attribution_rows.AttributionRow`). Rows are pruned with the minute
rollups (`profiler.store.retention`), and `energy_by_group` sums them over a
window for `finwatt chargeback --by cgroup`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from profiler.model.attribution_rows import IDLE_GROUP, AttributionRow, GroupEnergy, GroupKind
from profiler.model.units import epoch_to_iso
from profiler.store.rows import run_from_row
from profiler.store.transactions import Repository

_COLUMNS = (
    "minute",
    "group_kind",
    "group_name",
    "owner",
    "detail",
    "seconds",
    "cpu_s",
    "dynamic_j",
    "idle_j",
    "provenance",
)
_MINUTE_S = 60.0


class Attribution(Repository):
    """The `attribution_minute` rows of a `Store` (`store.attribution`)."""

    def add(self, run_id: str, rows: Sequence[AttributionRow]) -> None:
        """Insert (or replace) a run's attribution rows in one transaction."""
        if not rows:
            return
        marks = ", ".join("?" * (len(_COLUMNS) + 1))
        with self._transaction() as tx:
            tx.executemany(
                f"INSERT OR REPLACE INTO attribution_minute (run_id, {', '.join(_COLUMNS)}) "
                f"VALUES ({marks})",
                [(run_id, *(getattr(r, c) for c in _COLUMNS)) for r in rows],
            )

    def for_run(self, run_id: str) -> list[AttributionRow]:
        """Return a run's attribution rows by minute, kind, then energy (largest first)."""
        rows = self._conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM attribution_minute WHERE run_id = ? "
            "ORDER BY minute, group_kind, dynamic_j + idle_j DESC, group_name",
            (run_id,),
        )
        return [AttributionRow(**{c: r[c] for c in _COLUMNS}) for r in rows]

    def delete_before(self, run_id: str, minute: int) -> int:
        """Delete a run's attribution rows of minutes before `minute`; return how many."""
        with self._transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM attribution_minute WHERE run_id = ? AND minute < ?",
                (run_id, minute),
            )
            return int(cursor.rowcount)

    def energy_by_group(
        self, since: datetime, until: datetime, group_kind: GroupKind
    ) -> list[GroupEnergy]:
        """Sum the attribution rows of `group_kind` whose minute starts in [since, until).

        The `idle` row (idle energy charged to no group) comes with every kind, so the
        groups, `other` and `idle` add up to the packages' energy of the minutes covered.

        Args:
            since: window start (aware datetime).
            until: window end (aware datetime).
            group_kind: `cgroup` or `process` (`host` returns the idle rows alone).

        Returns:
            One entry per group, largest energy first.
        """
        since_s, until_s = since.timestamp(), until.timestamp()
        runs = self._conn.execute(
            "SELECT * FROM run WHERE started < ? AND (ended IS NULL OR ended >= ?) "
            "AND id IN (SELECT DISTINCT run_id FROM attribution_minute)",
            (epoch_to_iso(until_s), epoch_to_iso(since_s - _MINUTE_S)),
        )
        sums: dict[str, list[float]] = {}
        owners: dict[str, str | None] = {}
        details: dict[str, str | None] = {}
        provenances: dict[str, dict[str, None]] = {}
        for run in [run_from_row(r) for r in runs]:
            started_s = run.started.timestamp()
            first = (since_s - started_s) / _MINUTE_S
            last = (until_s - started_s) / _MINUTE_S
            for r in self._conn.execute(
                "SELECT group_name, owner, detail, seconds, dynamic_j, idle_j, cpu_s, provenance "
                "FROM attribution_minute WHERE run_id = ? AND minute >= ? AND minute < ? "
                "AND (group_kind = ? OR (group_kind = 'host' AND group_name = ?))",
                (run.id, first, last, group_kind, IDLE_GROUP),
            ):
                total = sums.setdefault(r["group_name"], [0.0, 0.0, 0.0, 0.0])
                total[0] += r["dynamic_j"]
                total[1] += r["idle_j"]
                total[2] += r["cpu_s"]
                total[3] += r["seconds"]
                owners.setdefault(r["group_name"], r["owner"])
                details.setdefault(r["group_name"], r["detail"])
                if r["provenance"]:
                    provenances.setdefault(r["group_name"], {})[r["provenance"]] = None
        groups = [
            GroupEnergy(
                group=name,
                owner=owners.get(name),
                energy_j=dynamic + idle,
                dynamic_j=dynamic,
                idle_j=idle,
                cpu_s=cpu,
                provenance=",".join(provenances[name]) if name in provenances else None,
                detail=details.get(name),
                seconds=seconds,
            )
            for name, (dynamic, idle, cpu, seconds) in sums.items()
        ]
        return sorted(groups, key=lambda g: (-g.energy_j, g.group))

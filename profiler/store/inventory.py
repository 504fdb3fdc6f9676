"""`store.inventory`: what each run ran on (the audit trail).

One row per run in `run_inventory`: the inventory as a JSON object of item -> text
(`profiler.sensors.inventory`), written when the run is created or imported.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from profiler.store.transactions import Repository


class Inventory(Repository):
    """The `run_inventory` rows of a `Store` (`store.inventory`)."""

    def add(self, run_id: str, inventory: Mapping[str, str | None]) -> None:
        """Store (or replace) a run's inventory; the run must exist."""
        with self._transaction() as tx:
            insert_inventory(tx, run_id, inventory)

    def for_run(self, run_id: str) -> dict[str, str | None] | None:
        """Return a run's inventory, None when it has none (recorded before inventories)."""
        row = self._conn.execute(
            "SELECT inventory FROM run_inventory WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        loaded = json.loads(row[0])
        return {str(k): None if v is None else str(v) for k, v in loaded.items()}


def insert_inventory(
    tx: sqlite3.Connection, run_id: str, inventory: Mapping[str, str | None]
) -> None:
    """Insert (or replace) a run's inventory inside the caller's transaction."""
    tx.execute(
        "INSERT OR REPLACE INTO run_inventory (run_id, inventory) VALUES (?, ?)",
        (run_id, json.dumps(dict(inventory), sort_keys=True)),
    )

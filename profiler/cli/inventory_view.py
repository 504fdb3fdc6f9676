"""`finwatt runs --diff A B`: what changed between two runs' inventories (the audit trail)."""

from __future__ import annotations

from rich.table import Table

from profiler.cli.common import emit_json, out
from profiler.model.text import printable
from profiler.settings.config import Settings
from profiler.workflows.database import open_store
from profiler.workflows.inventory import diff_runs


def print_inventory_diff(settings: Settings, before: str, after: str, *, as_json: bool) -> None:
    """Print the items whose value differs between runs `before` and `after`.

    Raises:
        profiler.workflows.inventory.InventoryDiffError: a run is missing or has no
            inventory (exit 2).
    """
    with open_store(settings, read_only=True) as store:
        found = diff_runs(store, before, after)
    if as_json:
        emit_json(found.as_dict(), doc="runs-diff")
        return
    if not found.changes:
        out.print(f"runs {before} and {after}: same inventory, nothing changed", markup=False)
        return
    table = Table(title=f"What changed from run {before} to run {after}")
    for column in ("item", before, after):
        table.add_column(column, overflow="fold")
    for item, was, now in found.changes:
        table.add_row(item, printable(was or "n/a"), printable(now or "n/a"))
    out.print(table)

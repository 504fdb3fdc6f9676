"""`store.devices`: the `device` table: each run's devices and their health."""

from __future__ import annotations

from collections.abc import Iterable

from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.store.rows import device_from_row, insert_devices, update_device_status
from profiler.store.transactions import Repository


class Devices(Repository):
    """The `device` rows of a `Store` (`store.devices`)."""

    def add(self, run_id: str, devices: Iterable[DeviceInfo]) -> None:
        """Insert the run's device records (status ok)."""
        with self._transaction() as tx:
            insert_devices(tx, run_id, (DeviceRecord(d) for d in devices))

    def set_status(self, run_id: str, device_id: str, status: str, reason: str | None) -> None:
        """Record a device's health (ok, degraded, lost) and why."""
        with self._transaction() as tx:
            update_device_status(tx, run_id, device_id, status, reason)

    def for_run(self, run_id: str) -> list[DeviceRecord]:
        """Return a run's devices in id order."""
        rows = self._conn.execute(
            "SELECT * FROM device WHERE run_id = ? ORDER BY device_id", (run_id,)
        )
        return [device_from_row(r) for r in rows]

"""The recorder's background writer: samples reach the database at most a second late.

docs/design.md#data-model: writes are batched, at most a second of samples per commit, so a
crash or SIGKILL loses at most the last second. The writer thread owns its own `Store`
(sqlite3 connections are not shared between threads), so the sampler never waits on
the disk. Each commit adds the batch's minute rollups with the incremental form of the
rollup (`profiler.store.rollup.MinuteSums`), not by re-reading samples.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from profiler.model.samples import SampleRow
from profiler.store.database import Store
from profiler.store.opening import StoreError, describe
from profiler.store.rollup import MinuteSums, upsert_minutes
from profiler.store.rows import insert_samples, update_device_status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _StatusChange:
    device_id: str
    status: str
    reason: str | None


class SampleWriter:
    """Background writer: queues samples and commits at most one second of them at a time.

    `close()` flushes everything queued. The first failed commit (a full disk, an I/O
    error) stops the writer: `error` says why, `failed` is set, `on_failure` is called
    (the recording then stops), and `last_stored_t` is the newest sample time committed.

    Args:
        path: database file.
        run_id: the run samples belong to.
        flush_interval_s: longest time between commits (design: at most 1 s).
        on_failure: called once, from the writer thread, when writing fails.

    """

    def __init__(
        self,
        path: Path,
        run_id: str,
        *,
        flush_interval_s: float = 1.0,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self._path = path
        self._run_id = run_id
        self._flush_interval_s = flush_interval_s
        self._queue: queue.SimpleQueue[list[SampleRow] | _StatusChange | None] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="finwatt-writer", daemon=True)
        self.error: BaseException | None = None
        self.failed = threading.Event()
        self.last_stored_t: float | None = None
        self._on_failure = on_failure
        self.rows_written = 0
        self._minutes = MinuteSums()
        self._thread.start()

    def put(self, rows: Iterable[SampleRow]) -> None:
        """Queue rows (one tick's worth) for the next commit."""
        self._queue.put(list(rows))

    def put_status(self, device_id: str, status: str, reason: str | None) -> None:
        """Queue a device-status change."""
        self._queue.put(_StatusChange(device_id, status, reason))

    def close(self) -> None:
        """Flush what is queued and stop the thread.

        Raises:
            StoreError: writing failed (the thread logged why when it stopped).

        """
        self._closing.set()
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise StoreError(self.describe_error())

    def describe_error(self) -> str:
        """The failure in one line (the fix named for a full disk); empty when none."""
        err = self.error
        if err is None:
            return ""
        if isinstance(err, sqlite3.Error | OSError):
            return f"writing samples: {describe(err, self._path)}"
        return f"writing samples to {self._path} failed: {err}"

    def _loop(self) -> None:
        from profiler.model.energy import run_hold_s  # numpy: only where samples are written

        try:
            with closing(Store(self._path)) as store:
                run = store.runs.get(self._run_id)
                # the run's hold, as the SQL form takes it from the run (docs/analyzer.md)
                self._minutes = MinuteSums(run_hold_s(run.interval_s if run else None))
                self._drain(store)
        except (sqlite3.Error, StoreError, OSError) as err:
            # not an error line: the recording stops and says why, once (exit 1)
            log.debug("sample writer stopped: %s", err)
            self.error = err
            self.failed.set()
            if self._on_failure is not None:
                self._on_failure()

    def _drain(self, store: Store) -> None:
        # Block for the first item of a batch, let the batch gather for the flush
        # interval, then take everything queued: two wake-ups per commit, not one per tick.
        while True:
            batch = [self._queue.get()]
            if batch[0] is not None:
                self._closing.wait(self._flush_interval_s)
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [r for item in batch if isinstance(item, list) for r in item]
            changes = [item for item in batch if isinstance(item, _StatusChange)]
            self._commit(store, rows, changes)
            if any(item is None for item in batch):
                return

    def _commit(self, store: Store, rows: list[SampleRow], changes: list[_StatusChange]) -> None:
        if not rows and not changes:
            return
        minute_rows = self._minutes.rows(self._run_id, rows)
        with store.transaction() as tx:
            insert_samples(tx, self._run_id, rows)
            upsert_minutes(tx, minute_rows)
            for change in changes:
                update_device_status(
                    tx, self._run_id, change.device_id, change.status, change.reason
                )
        self.rows_written += len(rows)
        if rows:
            newest = max(r.t for r in rows)
            self.last_stored_t = max(newest, self.last_stored_t or newest)

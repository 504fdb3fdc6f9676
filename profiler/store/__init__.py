"""SQLite persistence: the only package that holds SQL.

`Store` is a finwatt database: one connection, its migrations and transactions, and
small repositories sharing it (`store.runs`, `store.devices`, `store.samples`,
`store.phases`, `store.findings`, `store.jobs`, `store.attribution`, `store.inventory`,
`store.housekeeping`: one module each); `SampleWriter` is the recorder's background
writer into one. The other modules: `schema` (migrations), `rollup` (the minute rollup,
in SQL and in the writer's Python), `rows` (model records <-> rows), `sample_reads`
(the samples' reads), `transactions` (`Transaction`, `Snapshot`, `Repository`),
`writer`, `stamps` (run ids, times, owner pid), `retention` (what to prune),
`interchange` and `interchange_schema` (the JSON run document, without SQL), `opening`
(finwatt's files only; new ones 0600; read-only opens) and `failure_notes` (runs a full
disk could not close).
"""

from profiler.store.database import Store
from profiler.store.opening import StoreError
from profiler.store.stamps import new_run_id, pid_alive, utc_now_iso
from profiler.store.writer import SampleWriter

__all__ = [
    "SampleWriter",
    "Store",
    "StoreError",
    "new_run_id",
    "pid_alive",
    "utc_now_iso",
]

"""Read a stored run into one `RunData`: the one loader of analysis, reports and live view.

Samples are read as one `DeviceSeries` per device (`Store.series`: one indexed query, no
`SampleRow` per sample), from raw samples or minute rollups. A run (or the part of it
from `min_t` on) spanning at least `ROLLUP_MIN_SPAN_S`, or whose oldest raw samples were
pruned, is analysed from its minute rollups (`sample_minute`: 60x fewer rows at 1-s
sampling); every rule gives the same result from them (docs/decisions.md, "Rollups and
retention"); shorter runs keep their raw samples, so their figures stay exact to the
sample. A report reads each device at its finest: raw samples unless retention pruned
its early ones.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from profiler.model.run import RunRecord
from profiler.model.run_data import RunData
from profiler.store.database import Store

Source = Literal["auto", "raw", "minute"]
"""Where samples are read from: raw `sample` rows, `sample_minute` rollups, or chosen."""

ReadSource = Literal["auto", "raw", "minute", "finest"]
"""A `Source`, or "finest": each device from its raw samples unless they were pruned."""

ROLLUP_MIN_SPAN_S = 6 * 3600.0
"""Runs (or parts in a window) at least this long are analysed from minute rollups."""


def raw_pruned(store: Store, run_id: str, device_id: str, min_t: float | None = None) -> bool:
    """Return whether a device's raw samples from `min_t` on begin after its rollups.

    Retention prunes old raw samples and keeps their minute rollups, which then begin
    earlier than the raw samples (or alone remain).
    """
    bounds = store.samples.time_bounds(run_id, device_id)
    rolled, raw = bounds["minute_first"], bounds["raw_first"]
    floor_t = float("-inf") if min_t is None else min_t
    return rolled is not None and (raw is None or raw > max(rolled, floor_t))


def choose_source(
    store: Store,
    run_id: str,
    device_ids: Collection[str],
    *,
    min_t: float | None = None,
    source: Source = "auto",
) -> Literal["raw", "minute"]:
    """Return where to read a run from: raw samples or minute rollups.

    `source` decides unless it is "auto"; then rollups when the run's data from `min_t` on
    span `ROLLUP_MIN_SPAN_S` or more, or when any device's raw samples there were pruned
    (`raw_pruned`).
    """
    if source != "auto":
        return source
    first, last = store.samples.minute_span(run_id, min_t=min_t)
    if first is None or last is None:
        return "raw"
    if any(raw_pruned(store, run_id, device_id, min_t) for device_id in device_ids):
        return "minute"
    return "minute" if last - first >= ROLLUP_MIN_SPAN_S else "raw"


def load_run_data(
    store: Store,
    run: RunRecord,
    *,
    source: ReadSource = "auto",
    only: Collection[str] | None = None,
) -> RunData:
    """Read a run, its devices, phases and each device's samples into one `RunData`.

    Args:
        store: the open store.
        run: the run.
        source: a `Source` (one source for the whole run, see `choose_source`), or
            "finest": each device from its raw samples unless they were pruned, then
            from its minute rollups, which still cover the whole run.
        only: ids of the devices whose samples to read (default every device's).
    """
    devices = tuple(store.devices.for_run(run.id))
    wanted = [d for d in devices if only is None or d.info.device_id in only]
    if source == "finest":
        rolled = {d.info.device_id for d in wanted if raw_pruned(store, run.id, d.info.device_id)}
    else:
        chosen = choose_source(store, run.id, [d.info.device_id for d in devices], source=source)
        rolled = {d.info.device_id for d in wanted} if chosen == "minute" else set()
    series = {
        d.info.device_id: store.samples.series(
            run.id, d.info, source="minute" if d.info.device_id in rolled else "raw"
        )
        for d in wanted
    }
    return RunData(run, devices, tuple(store.phases.for_run(run.id)), series, frozenset(rolled))

"""`model.samples`: the one metric table matches the stored columns; `Reading.merge`."""

import sqlite3
from dataclasses import fields

from profiler.model.device import DeviceStatus
from profiler.model.samples import METRIC_SPECS, METRICS, Reading, SampleRow
from profiler.store.rollup import EVERY_SAMPLE, ROLLUP_COLUMNS
from profiler.store.rows import SAMPLE_COLUMNS
from profiler.store.schema import MIGRATIONS


def sample_table_columns() -> list[str]:
    conn = sqlite3.connect(":memory:")
    try:
        for migration in MIGRATIONS:
            conn.executescript(migration)
        return [row[1] for row in conn.execute("PRAGMA table_info(sample)")]
    finally:
        conn.close()


def test_metrics_are_the_sample_tables_columns_in_order() -> None:
    assert sample_table_columns() == ["run_id", "device_id", "t", *METRICS]
    assert ("device_id", "t", *METRICS) == SAMPLE_COLUMNS


def test_metric_table_names_are_unique_and_the_records_fields() -> None:
    assert len(set(METRICS)) == len(METRICS) == len(METRIC_SPECS)
    assert [f.name for f in fields(SampleRow)] == ["device_id", "t", *METRICS]
    assert [f.name for f in fields(Reading)] == ["device_id", *METRICS, "status"]
    gauges = [s.prometheus for s in METRIC_SPECS if s.prometheus is not None]
    assert len(set(gauges)) == len(gauges)


def test_the_rollup_folds_metrics_or_values_derived_per_sample() -> None:
    # t and the interval values dt, de, de_dt and reset (a counter that went down) are
    # derived per sample (store.rollup)
    derived = {EVERY_SAMPLE, "t", "dt", "de", "de_dt", "reset"}
    assert {c.of for c in ROLLUP_COLUMNS} - derived <= set(METRICS)


def test_merge_fills_only_missing_metrics_and_keeps_the_first_trouble() -> None:
    counter = Reading("gpu:0", energy_j=10.0, power_w=None, status=DeviceStatus.OK)
    extra = Reading(
        "gpu:0",
        energy_j=99.0,
        power_w=250.0,
        sm_active=0.5,
        status=DeviceStatus.DEGRADED,
    )
    counter.merge(extra)
    assert counter.energy_j == 10.0  # a value already read wins
    assert counter.power_w == 250.0 and counter.sm_active == 0.5
    assert counter.util is None
    assert counter.status is DeviceStatus.DEGRADED  # an OK reading takes the other's trouble
    lost = Reading("gpu:0", status=DeviceStatus.LOST)
    lost.merge(Reading("gpu:0", util=0.3, status=DeviceStatus.DEGRADED))
    assert lost.status is DeviceStatus.LOST and lost.util == 0.3  # its own trouble stays


def test_sample_row_from_reading_keeps_every_metric() -> None:
    reading = Reading("cpu:0", **{name: float(i) for i, name in enumerate(METRICS, start=1)})
    row = SampleRow.from_reading(2.5, reading)
    assert row.t == 2.5 and row.device_id == "cpu:0"
    assert [getattr(row, name) for name in METRICS] == [float(i) for i in range(1, 9)]

"""Minute rollups (`sample_minute`): equal to a numpy computation from the raw samples on
every write path, and the analyzer gives the same findings from them as from raw samples."""

import itertools
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.energy import (
    counter_resets,
    interval_energy,
    intervals,
    median_hold_s,
    run_hold_s,
)
from profiler.model.samples import SampleRow
from profiler.model.savings import Site
from profiler.model.units import DAY_S, GIB
from profiler.store import SampleWriter, Store
from profiler.store.interchange import import_run
from profiler.store.rollup import MINUTE_COLUMNS, MinuteSums, upsert_minutes
from profiler.store.schema import MIGRATIONS
from profiler.workflows.analyze import analyze_run
from profiler.workflows.run_data import choose_source, load_run_data
from tests.fakes.history import history_doc
from tests.profiler.analysis.examples import oversized_cpu_util
from tests.profiler.store.minute_table import minute_rows

DEVICES = [
    DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * GIB),
    DeviceInfo("cpu:0", "cpu", power_limit_w=280.0, provenance="measured:rapl"),
    DeviceInfo("gpu:0", "gpu", mem_total_bytes=80 * GIB, provenance="measured:nvml-energy"),
]
METRICS = ("util", "power_w", "energy_j", "mem_used_bytes", "sm_active")


INTERVAL_S = 1.0
"""The sampling interval the runs below state, where they state one (hold: 2 s)."""


def reference(
    t: np.ndarray, m: dict[str, np.ndarray], hold: float | None = None
) -> dict[int, dict[str, Any]]:
    """The rollup of one device's samples, computed with numpy (NaN = null).

    The one definition of interval energy (`interval_energy`) is the oracle: counter
    resets dropped and counted, power held at most `hold` (default: 2 x the median step).
    """
    order = np.argsort(t, kind="stable")
    t = t[order]
    m = {k: v[order] for k, v in m.items()}
    dt = intervals(t)
    held = median_hold_s(t) if hold is None else hold
    de, covered = interval_energy(t, m["energy_j"], m["power_w"], held)
    resets = counter_resets(m["energy_j"])
    minute = np.floor(t / 60.0).astype(np.int64)
    out: dict[int, dict[str, Any]] = {}
    for k in np.unique(minute):
        sel = minute == k

        def total(values: np.ndarray) -> float | None:
            finite = values[~np.isnan(values)]
            return float(finite.sum()) if finite.size else None

        def peak(values: np.ndarray) -> float | None:
            finite = values[~np.isnan(values)]
            return float(finite.max()) if finite.size else None

        def count(values: np.ndarray) -> int:
            return int((~np.isnan(values)).sum())

        known = sel & ~np.isnan(de)
        out[int(k)] = {
            "minute": int(k),
            "n": int(sel.sum()),
            "t_first": float(t[sel].min()),
            "t_last": float(t[sel].max()),
            "util_n": count(m["util"][sel]),
            "util_sum": total(m["util"][sel]),
            "util_max": peak(m["util"][sel]),
            "power_n": count(m["power_w"][sel]),
            "power_sum": total(m["power_w"][sel]),
            "energy_delta_j": total(de[sel]),
            "energy_s": float(covered[known].sum()) if known.any() else None,
            "covered_s": float(dt[sel].sum()),
            "mem_max_bytes": peak(m["mem_used_bytes"][sel]),
            "sm_n": count(m["sm_active"][sel]),
            "sm_sum": total(m["sm_active"][sel]),
            "resets_n": int(resets[sel].sum()),
        }
    return out


def assert_rows_equal(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [r["minute"] for r in actual] == [r["minute"] for r in expected]
    for a, e in zip(actual, expected, strict=True):
        for name in MINUTE_COLUMNS:
            if e[name] is None:
                assert a[name] is None, (name, a, e)
            else:
                assert a[name] == pytest.approx(e[name], rel=1e-9, abs=1e-6), (name, a, e)


def to_rows(device: str, t: np.ndarray, m: dict[str, np.ndarray]) -> list[SampleRow]:
    def value(name: str, i: int) -> float | int | None:
        v = m[name][i]
        if np.isnan(v):
            return None
        return int(v) if name == "mem_used_bytes" else float(v)

    return [
        SampleRow(device, float(t[i]), **{k: value(k, i) for k in METRICS}) for i in range(t.size)
    ]


def random_device(rng: np.random.Generator, n: int, *, counter: bool, power: bool) -> dict:
    def holes(values: np.ndarray) -> np.ndarray:
        values = values.astype(np.float64)
        values[rng.random(n) < 0.2] = np.nan
        return values

    energy = np.cumsum(rng.uniform(0, 50, n)) if counter else np.full(n, np.nan)
    return {
        "util": holes(rng.uniform(0, 1, n)),
        "power_w": holes(rng.uniform(0, 300, n)) if power else np.full(n, np.nan),
        "energy_j": holes(energy) if counter else energy,
        "mem_used_bytes": holes(rng.integers(0, 2**34, n)),
        "sm_active": holes(rng.uniform(0, 1, n)),
    }


def random_run(seed: int, n: int) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    # steps of 0, fractions and gaps of minutes; t starts anywhere in the first minutes
    steps = rng.choice([0.0, 0.25, 1.0, 7.5, 59.99, 61.0, 200.0], size=n)
    t = np.round(rng.uniform(0, 120) + np.cumsum(steps), 3)
    metrics = {
        "host": random_device(rng, n, counter=False, power=False),
        "cpu:0": random_device(rng, n, counter=True, power=True),
        "gpu:0": random_device(rng, n, counter=False, power=True),
    }
    return t, metrics


def expected_rows(
    t: np.ndarray, metrics: dict, hold: float | None = None
) -> dict[str, list[dict[str, Any]]]:
    return {d: list(reference(t, m, hold).values()) for d, m in metrics.items()}


def stored_rows(path: Path, run_id: str) -> dict[str, list[dict[str, Any]]]:
    with Store(path) as store:
        return {d.device_id: minute_rows(store.path, run_id, d.device_id) for d in DEVICES}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), splits=st.integers(1, 5))
def test_add_samples_rollup_equals_numpy(seed: int, n: int, splits: int) -> None:
    t, metrics = random_run(seed, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.db"
        with Store(path) as store:
            run = store.runs.create("monitor", status="complete")
            store.devices.add(run.id, DEVICES)
            rows = [
                r
                for i in range(n)
                for d in metrics
                for r in to_rows(d, t[i : i + 1], {k: v[i : i + 1] for k, v in metrics[d].items()})
            ]
            # several calls, each a run of ticks, as batches arrive
            bounds = np.linspace(0, len(rows), splits + 1).astype(int)
            for lo, hi in itertools.pairwise(bounds):
                store.samples.add(run.id, rows[lo:hi])
        actual = stored_rows(path, run.id)
    for device, rows_expected in expected_rows(t, metrics).items():
        assert_rows_equal(actual[device], rows_expected)


def tick_rows(t: np.ndarray, metrics: dict) -> list[SampleRow]:
    """The samples in the order a recorder writes them: tick by tick, every device."""
    return [
        r
        for i in range(t.size)
        for d in metrics
        for r in to_rows(d, t[i : i + 1], {k: v[i : i + 1] for k, v in metrics[d].items()})
    ]


def test_sample_minute_table_has_the_rollup_columns(tmp_path: Path) -> None:
    Store(tmp_path / "f.db").close()
    conn = sqlite3.connect(tmp_path / "f.db")
    names = [r[1] for r in conn.execute("PRAGMA table_info(sample_minute)")]
    conn.close()
    assert names == ["run_id", "device_id", *MINUTE_COLUMNS]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), splits=st.integers(1, 6))
def test_sql_and_python_forms_agree(seed: int, n: int, splits: int) -> None:
    # the one definition's two forms on the same samples: SQL over the stored rows
    # (`store.samples.add`), Python folding batches into partial rows (the writer's UPSERTs)
    t, metrics = random_run(seed, n)
    rows = tick_rows(t, metrics)
    bounds = np.linspace(0, len(rows), splits + 1).astype(int)
    sums = MinuteSums(run_hold_s(INTERVAL_S))
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "f.db") as store:
        for run_id in ("sql", "python"):
            store.runs.create("monitor", run_id=run_id, status="complete", interval_s=INTERVAL_S)
            store.devices.add(run_id, DEVICES)
        store.samples.add("sql", rows)
        for lo, hi in itertools.pairwise(bounds):
            with store.transaction() as tx:
                upsert_minutes(tx, sums.rows("python", rows[lo:hi]))
        for d in DEVICES:
            sql_rows = minute_rows(store.path, "sql", d.device_id)
            assert_rows_equal(minute_rows(store.path, "python", d.device_id), sql_rows)


def write_three_ways(tmp_path: Path, t: np.ndarray, metrics: dict) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.db" for name in ("writer", "import", "migration")}
    # 1. the recorder's path: a writer thread committing whatever has queued
    with Store(paths["writer"]) as store:
        store.runs.create(
            "monitor",
            run_id="r",
            status="complete",
            started="2026-01-01T00:00:00Z",
            interval_s=INTERVAL_S,
        )
        store.devices.add("r", DEVICES)
    writer = SampleWriter(paths["writer"], "r", flush_interval_s=0.0)
    for i in range(t.size):
        writer.put(
            r
            for d in metrics
            for r in to_rows(d, t[i : i + 1], {k: v[i : i + 1] for k, v in metrics[d].items()})
        )
    writer.close()

    # 2. import of an interchange document
    def nullable(name: str, values: np.ndarray) -> np.ndarray:
        if name != "mem_used_bytes":
            return values
        return np.array([None if np.isnan(v) else int(v) for v in values], dtype=object)

    doc = history_doc(
        [{"id": d.device_id, "kind": d.kind} for d in DEVICES],
        t,
        {d: {k: nullable(k, v) for k, v in m.items()} for d, m in metrics.items()},
        run_id="r",
        started="2026-01-01T00:00:00.000Z",
        interval_s=INTERVAL_S,
    )
    with Store(paths["import"]) as store:
        import_run(store, doc)
    # 3. a version-1 database (raw samples only) upgraded by opening it
    conn = sqlite3.connect(paths["migration"])
    conn.executescript(f"{MIGRATIONS[0]}PRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO run (id, kind, host, started, status, version, interval_s) "
        f"VALUES ('r', 'monitor', 'h', '2026-01-01T00:00:00Z', 'complete', '0', {INTERVAL_S})"
    )
    conn.executemany(
        "INSERT INTO device (run_id, device_id, kind) VALUES ('r', ?, ?)",
        [(d.device_id, d.kind) for d in DEVICES],
    )
    for d in metrics:
        conn.executemany(
            f"INSERT INTO sample (run_id, device_id, t, {', '.join(METRICS)}) "
            f"VALUES ('r', ?, ?, {', '.join('?' * len(METRICS))})",
            [
                (r.device_id, r.t, *(getattr(r, k) for k in METRICS))
                for r in to_rows(d, t, metrics[d])
            ],
        )
    conn.commit()
    conn.close()
    return paths


def test_writer_import_and_migration_give_the_same_rollups(tmp_path: Path) -> None:
    t, metrics = random_run(11, 300)
    paths = write_three_ways(tmp_path, t, metrics)
    expected = expected_rows(t, metrics, run_hold_s(INTERVAL_S))
    for path in paths.values():
        actual = stored_rows(path, "r")
        for device, rows in expected.items():
            assert_rows_equal(actual[device], rows)
    conn = sqlite3.connect(paths["migration"])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()


# --- the analyzer from rollups --------------------------------------------------------


def long_history(step_s: float, start_s: float, days: float, seed: int) -> tuple[Any, dict]:
    """Host and CPU on the oversized-CPU example's 5-min utilisation, plus an idle GPU."""
    t = np.arange(start_s, days * DAY_S, step_s)
    _, block_util = oversized_cpu_util()
    rng = np.random.default_rng(seed)
    util = block_util[np.minimum(np.floor(t / 300.0).astype(int), block_util.size - 1)]
    util = np.clip(util + rng.normal(0, 0.005, t.size), 0, 1)
    util[rng.random(t.size) < 0.02] = np.nan
    power = 60.0 + 200.0 * np.nan_to_num(util)
    dt = np.diff(np.concatenate(([0.0], t)))
    gpu_util = np.zeros(t.size)
    metrics = {
        "host": {"util": util, "mem_used_bytes": np.full(t.size, 40.0 * GIB)},
        "cpu:0": {"util": util, "power_w": power, "energy_j": np.cumsum(power * dt)},
        "gpu:0": {
            "util": gpu_util,
            "sm_active": gpu_util,
            "mem_used_bytes": np.full(t.size, 0.5 * GIB),
            "power_w": np.full(t.size, 65.0),
        },
    }
    return t, metrics


def import_history(path: Path, t: Any, metrics: dict, **run: Any) -> str:
    doc = history_doc(
        [
            {"id": "host", "kind": "host", "logical_cores": 64, "mem_total_bytes": 512 * GIB},
            {"id": "cpu:0", "kind": "cpu", "power_limit_w": 280.0, "provenance": "measured:rapl"},
            {
                "id": "gpu:0",
                "kind": "gpu",
                "mem_total_bytes": 80 * GIB,
                "power_limit_w": 700.0,
                "provenance": "measured:nvml-energy",
            },
        ],
        t,
        metrics,
        **run,
    )
    with Store(path) as store:
        return import_run(store, doc)


def analyse(path: Path, run_id: str, source: str) -> dict[str, Any]:
    with Store(path) as store:
        run = store.runs.get(run_id)
        assert run is not None
        return analyze_run(store, run, Site(), Thresholds(), source=source).as_dict()  # type: ignore[arg-type]


def assert_same_analysis(raw: dict, rolled: dict, *, rel: float, p95_abs: float) -> None:
    assert [(f["rule"], f["device"], f["severity"]) for f in raw["findings"]] == [
        (f["rule"], f["device"], f["severity"]) for f in rolled["findings"]
    ]
    for device, a in raw["metrics"]["devices"].items():
        b = rolled["metrics"]["devices"][device]
        assert b["samples"] == a["samples"]
        assert b["eligible"] == a["eligible"]
        for name in ("util_mean", "energy_j", "mean_power_w", "mem_max_bytes", "sm_active_mean"):
            if a[name] is None:
                assert b[name] is None, (device, name)
            else:
                assert b[name] == pytest.approx(a[name], rel=1e-9, abs=1e-12), (device, name)
        # a minute with a sample counts whole, raw data count gaps of up to two intervals
        assert b["span_s"] == pytest.approx(a["span_s"], rel=rel), device
        assert b["valid_hours"] == pytest.approx(a["valid_hours"], rel=1e-3), device
        if a["util_p95"] is not None:
            assert b["util_p95"] == pytest.approx(a["util_p95"], abs=p95_abs), device


def test_aligned_long_window_gives_identical_findings(tmp_path: Path) -> None:
    # samples from t = 0 every 20 s: the raw windows and the minute windows coincide
    path = tmp_path / "f.db"
    t, metrics = long_history(20.0, 0.0, 14, seed=1)
    run_id = import_history(path, t, metrics, run_id="aligned")
    with Store(path) as store:
        assert choose_source(store, run_id, ["host"]) == "minute"
        run = store.runs.get(run_id)
        assert run is not None
        assert sum(s.n for s in load_run_data(store, run).series.values()) == 3 * 14 * 1440
    raw = analyse(path, run_id, "raw")
    rolled = analyse(path, run_id, "minute")
    rules = {f["rule"] for f in raw["findings"]}
    assert {"OVER_PROVISIONED_CPU", "IDLE_GPU"} <= rules
    assert_same_analysis(raw, rolled, rel=1e-9, p95_abs=1e-12)
    for a, b in zip(raw["findings"], rolled["findings"], strict=True):
        assert a["message"] == b["message"]


def test_unaligned_window_gives_the_same_findings_within_a_window(tmp_path: Path) -> None:
    # samples from t = 7 s every 15 s: windows shift by 7 s; percentiles move at most
    # as much as one window's resolution allows, the findings not at all
    path = tmp_path / "f.db"
    t, metrics = long_history(15.0, 7.0, 8, seed=2)
    run_id = import_history(path, t, metrics, run_id="shifted")
    raw = analyse(path, run_id, "raw")
    rolled = analyse(path, run_id, "minute")
    assert_same_analysis(raw, rolled, rel=1e-3, p95_abs=0.01)
    gpu_raw, gpu_rolled = (
        next(f for f in doc["findings"] if f["device"] == "gpu:0") for doc in (raw, rolled)
    )
    assert gpu_rolled["evidence"]["max_util"] == gpu_raw["evidence"]["max_util"] == 0.0


def test_gpu_max_util_is_the_sampled_peak_not_a_minute_mean(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    t, metrics = long_history(10.0, 0.0, 7.5, seed=3)
    metrics["gpu:0"]["util"] = metrics["gpu:0"]["util"].copy()
    metrics["gpu:0"]["util"][1000] = 0.9  # one 10-s spike: its minute's mean is 0.15
    run_id = import_history(path, t, metrics, run_id="spike")
    for source in ("raw", "minute"):
        doc = analyse(path, run_id, source)
        assert all(f["rule"] != "IDLE_GPU" for f in doc["findings"]), source
        gpu = next(f for f in doc["findings"] if f["device"] == "gpu:0")
        assert gpu["evidence"]["max_util"] == 0.9


def test_short_runs_keep_raw_samples(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    t, metrics = long_history(1.0, 1.0, 0.1, seed=4)
    run_id = import_history(path, t, metrics, run_id="short")
    with Store(path) as store:
        assert choose_source(store, run_id, ["host", "cpu:0", "gpu:0"]) == "raw"
        run = store.runs.get(run_id)
        assert run is not None
        series = list(load_run_data(store, run).series.values())
        assert series[0].n == t.size


def test_writer_sums_merge_across_commits(tmp_path: Path) -> None:
    # every tick in its own commit: each minute's row is built by many UPSERTs
    t, metrics = random_run(5, 200)
    path = tmp_path / "f.db"
    sums = MinuteSums(run_hold_s(INTERVAL_S))
    with Store(path) as store:
        store.runs.create("monitor", run_id="r", status="complete", interval_s=INTERVAL_S)
        store.devices.add("r", DEVICES)
        for i in range(t.size):
            rows = [
                r
                for d in metrics
                for r in to_rows(d, t[i : i + 1], {k: v[i : i + 1] for k, v in metrics[d].items()})
            ]
            with store.transaction() as tx:
                upsert_minutes(tx, sums.rows("r", rows))
    actual = stored_rows(path, "r")
    for device, rows_expected in expected_rows(t, metrics, run_hold_s(INTERVAL_S)).items():
        assert_rows_equal(actual[device], rows_expected)

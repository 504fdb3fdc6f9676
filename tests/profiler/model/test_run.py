"""`model.run`: typed phase figures that round-trip the stored `details` object; run times."""

from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.model.run import PhaseMetrics, RunRecord

# the figures and their declared types; `extra` and `present` are bookkeeping
FIGURES = {f.name: str(f.type) for f in fields(PhaseMetrics) if f.name not in ("extra", "present")}
LISTS = sorted(name for name, kind in FIGURES.items() if kind.startswith("tuple"))
TEXTS = sorted(name for name, kind in FIGURES.items() if kind.startswith("str"))
FLAGS = sorted(name for name, kind in FIGURES.items() if kind.startswith("bool"))
NUMBERS = sorted(set(FIGURES) - set(LISTS) - set(TEXTS) - set(FLAGS))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
numbers = st.none() | st.integers(min_value=0, max_value=10**9) | st.floats(allow_nan=False)
texts = st.none() | st.text(max_size=20)
flags = st.none() | st.booleans()
lists = st.none() | st.lists(st.text(max_size=10), max_size=4)


def known_figures() -> st.SearchStrategy[dict[str, Any]]:
    per_name = {name: numbers for name in NUMBERS}
    per_name |= {name: texts for name in TEXTS} | {name: lists for name in LISTS}
    per_name |= {name: flags for name in FLAGS}
    return st.fixed_dictionaries({}, optional=per_name)


def test_the_figures_by_type() -> None:
    # the strategies above draw values by declared type: check the split they rely on
    assert LISTS == ["energy_devices", "invalid_reasons"]
    assert TEXTS == ["attributed_provenance", "error", "idle_share", "provenance"]
    assert FLAGS == ["disturbed", "shared_host"]
    assert "energy_j" in NUMBERS and "attributed_energy_j" in NUMBERS and len(NUMBERS) == 20


unknown_keys = st.text(min_size=1, max_size=12).filter(lambda key: key not in FIGURES)


@given(
    known=known_figures(),
    unknown=st.dictionaries(unknown_keys, json_values, max_size=3),
    wrong=st.dictionaries(st.sampled_from(NUMBERS + TEXTS), st.lists(st.integers()), max_size=2),
)
def test_details_round_trip_key_for_key(
    known: dict[str, Any], unknown: dict[str, Any], wrong: dict[str, Any]
) -> None:
    details = {**known, **unknown, **wrong}
    metrics = PhaseMetrics.from_details(details)
    stored = metrics.as_details()
    assert stored == details
    assert list(stored) == sorted(details)
    assert PhaseMetrics.from_details(stored) == metrics
    assert metrics.present == set(known) - set(wrong)
    assert set(metrics.extra) == set(unknown) | set(wrong)


def test_figures_are_typed_and_none_where_absent_or_null() -> None:
    metrics = PhaseMetrics.from_details(
        {"energy_j": 120.5, "batches": 3, "energy_devices": ["cpu:0"], "error": None}
    )
    assert metrics.energy_j == 120.5 and metrics.batches == 3
    assert metrics.energy_devices == ("cpu:0",)  # lists are held as tuples
    assert metrics.error is None and metrics.seconds is None
    # a null the document carries is kept; an absent key stays absent
    assert metrics.as_details() == {
        "batches": 3,
        "energy_devices": ["cpu:0"],
        "energy_j": 120.5,
        "error": None,
    }
    assert PhaseMetrics().as_details() == {}


def test_a_known_key_of_the_wrong_type_is_kept_in_extra() -> None:
    details = {
        "energy_j": "12 J",
        "seconds": True,  # a bool is not a number here
        "energy_devices": ["cpu:0", 3],
        "invalid_reasons": "one reason",
        "provenance": 5,
        "units_per_j": 2.5,
    }
    metrics = PhaseMetrics.from_details(details)
    assert metrics.energy_j is None and metrics.seconds is None
    assert metrics.energy_devices is None and metrics.invalid_reasons is None
    assert metrics.provenance is None and metrics.units_per_j == 2.5
    assert dict(metrics.extra) == {k: v for k, v in details.items() if k != "units_per_j"}
    assert metrics.present == {"units_per_j"}
    assert metrics.as_details() == dict(sorted(details.items()))


def test_updated_sets_figures_and_refuses_unknown_names() -> None:
    base = PhaseMetrics.of(seconds=10.0)
    later = base.updated(energy_j=50.0, invalid_reasons=["short"])
    assert base.as_details() == {"seconds": 10.0}  # records are immutable
    assert later.as_details() == {"energy_j": 50.0, "invalid_reasons": ["short"], "seconds": 10.0}
    assert later.invalid_reasons == ("short",)
    for name in ("energy_kwh", "extra", "present"):
        with pytest.raises(TypeError, match="not a phase figure"):
            base.updated(**{name: 1.0})
    with pytest.raises(TypeError, match="not a phase figure"):
        PhaseMetrics.of(joules=1.0)


def run_record(started: datetime, ended: datetime | None) -> RunRecord:
    return RunRecord(
        id="r1",
        kind="monitor",
        label=None,
        host="h",
        started=started,
        ended=ended,
        status="complete" if ended else "running",
        config={},
        version="0",
    )


def test_run_times_as_stored_and_duration() -> None:
    started = datetime(2026, 11, 29, 19, 30, tzinfo=UTC)
    run = run_record(started, started + timedelta(seconds=90, microseconds=500_000))
    assert run.started_iso == "2026-11-29T19:30:00.000Z"
    assert run.ended_iso == "2026-11-29T19:31:30.500Z"
    assert run.duration_s == 90.5
    precise = run_record(started + timedelta(microseconds=7), None)
    assert precise.started_iso == "2026-11-29T19:30:00.000007Z"  # nothing rounded away
    assert precise.ended_iso is None and precise.duration_s is None
    local = run_record(datetime(2026, 11, 29, 20, 30, tzinfo=timezone(timedelta(hours=1))), None)
    assert local.started_iso == "2026-11-29T19:30:00.000Z"

"""The attribution model's pure functions (profiler.analysis.attribution)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.analysis.attribution import (
    OTHER,
    allocate_idle,
    attributed_provenance,
    attributed_sources,
    cpu_groups,
    share_dynamic_energy,
    share_gpu_energy,
    split_idle_j,
    top_groups,
)
from profiler.model.provenance import is_estimate, is_measured


def test_dynamic_energy_is_shared_in_proportion_to_cpu_seconds() -> None:
    shares = share_dynamic_energy(90.0, {"a": 2.0, "b": 1.0, OTHER: 0.0})
    assert shares == pytest.approx({"a": 60.0, "b": 30.0, OTHER: 0.0})


def test_no_cpu_time_shares_nothing_rather_than_dividing_by_zero() -> None:
    assert share_dynamic_energy(10.0, {"a": 0.0, OTHER: 0.0}) == {"a": 0.0, OTHER: 0.0}


@given(
    st.floats(0, 1e6),
    st.dictionaries(st.text(min_size=1, max_size=4), st.floats(0, 1e4), min_size=1),
)
def test_shares_add_up_to_the_energy_whenever_any_cpu_time_was_used(
    energy_j: float, cpu_s: dict[str, float]
) -> None:
    shares = share_dynamic_energy(energy_j, cpu_s)
    expected = energy_j if sum(cpu_s.values()) > 0 else 0.0
    assert math.isclose(sum(shares.values()), expected, rel_tol=1e-9, abs_tol=1e-9)


def test_the_remainder_group_takes_host_cpu_time_no_group_claims() -> None:
    assert cpu_groups(3.0, {"job": 1.0}) == {"job": 1.0, OTHER: 2.0}
    # process times read a little after /proc/stat: never a negative remainder
    assert cpu_groups(0.9, {"job": 1.0}) == {"job": 1.0, OTHER: 0.0}


def test_idle_is_the_idle_power_over_the_interval_capped_at_the_energy() -> None:
    assert split_idle_j(10.0, 2.0, 3.0) == pytest.approx((4.0, 6.0))
    assert split_idle_j(5.0, 2.0, 3.0) == pytest.approx((0.0, 5.0))


def test_idle_policies_none_cpu_time_and_cores() -> None:
    cpu = {"job": 1.0, OTHER: 3.0}
    assert allocate_idle(8.0, "none", cpu_s_by_group=cpu) == {"job": 0.0, OTHER: 0.0}
    assert allocate_idle(8.0, "cpu-time", cpu_s_by_group=cpu) == pytest.approx(
        {"job": 2.0, OTHER: 6.0}
    )
    assert allocate_idle(8.0, "cores", cores_by_group={"job": 1.0}, host_cores=4.0) == (
        pytest.approx({"job": 2.0})
    )
    # groups claiming more cores than the host has never get more than the idle energy
    over = allocate_idle(8.0, "cores", cores_by_group={"a": 4.0, "b": 4.0}, host_cores=4.0)
    assert sum(over.values()) == pytest.approx(8.0)


def test_an_unknown_idle_policy_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="none, cpu-time, cores"):
        allocate_idle(1.0, "half", cpu_s_by_group={})  # type: ignore[arg-type]


def test_gpu_energy_is_shared_by_utilisation_else_by_memory_and_says_which() -> None:
    by_util = share_gpu_energy(100.0, util_by_group={"a": 30, "b": 10}, mem_bytes_by_group={"a": 1})
    assert by_util is not None and by_util.basis == "gpu-util"
    assert by_util.energy_j_by_group == pytest.approx({"a": 75.0, "b": 25.0})
    by_mem = share_gpu_energy(100.0, util_by_group={}, mem_bytes_by_group={"a": 3e9, "b": 1e9})
    assert by_mem is not None and by_mem.basis == "gpu-memory"
    assert by_mem.energy_j_by_group == pytest.approx({"a": 75.0, "b": 25.0})
    assert share_gpu_energy(100.0) is None


def test_attributed_provenance_keeps_the_estimate_visible() -> None:
    estimated = attributed_provenance("cpu-time", "estimated:vcpu-average")
    assert estimated == "attributed:cpu-time(estimated:vcpu-average)"
    assert is_estimate(estimated)
    measured = attributed_provenance("cpu-time", "measured:rapl")
    assert not is_estimate(measured)
    assert not is_measured(measured)  # shared by a model: not a sensor's figure
    mixed = attributed_provenance("cpu-time", "measured:rapl,estimated:linear-tdp")
    assert is_estimate(mixed)
    assert attributed_sources(mixed) == ["measured:rapl", "estimated:linear-tdp"]


def test_top_groups_bounds_the_groups_and_keeps_the_total() -> None:
    kept = top_groups({"a": 5.0, "b": 1.0, "c": 3.0, OTHER: 0.5}, 2)
    assert kept == {"a": 5.0, "c": 3.0, OTHER: 1.5}
    assert sum(kept.values()) == pytest.approx(9.5)

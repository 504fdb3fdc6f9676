"""Chargeback rows (profiler.analysis.chargeback): groups, `idle` and `unattributed`."""

from __future__ import annotations

import pytest

from profiler.analysis.chargeback import (
    IDLE_ROW,
    UNATTRIBUTED_ROW,
    HostWindow,
    JobCharge,
    charge,
    parse_group_by,
)
from profiler.model.savings import Site


def _job(run_id: str, start_s: float, end_s: float, desk: str | None, **kw: float) -> JobCharge:
    return JobCharge(
        run_id=run_id,
        start_s=start_s,
        end_s=end_s,
        command=["var-batch", "--eod"],
        tags={"desk": desk} if desk else {},
        unit="paths",
        units=kw.get("units"),
        charged_j=kw.get("charged_j", 0.0),
        idle_j=kw.get("idle_j", 0.0),
        idle_unallocated_j=kw.get("idle_unallocated_j", 0.0),
        host_energy_j=kw.get("host_energy_j", 0.0),
        provenance="attributed:cpu-time(measured:rapl)",
    )


def test_rows_add_up_to_the_monitored_host_energy() -> None:
    window = HostWindow("m", 0.0, 100.0, energy_j=1000.0, idle_j=400.0, provenance="measured:rapl")
    jobs = [
        _job("a", 10, 20, "rates", charged_j=150.0, idle_j=50.0, host_energy_j=300.0),
        _job("b", 30, 40, "fx", charged_j=100.0, host_energy_j=250.0),
        _job("c", 50, 60, "rates", charged_j=50.0, host_energy_j=120.0),
    ]
    result = charge(jobs, [window], "tag", "desk")
    rows = {r.group: r for r in result.rows}
    assert rows["rates"].energy_j == pytest.approx(200.0) and rows["rates"].jobs == 2
    assert rows["fx"].energy_j == pytest.approx(100.0)
    assert rows[IDLE_ROW].energy_j == pytest.approx(350.0)  # 400 idle, 50 charged to job a
    assert rows[UNATTRIBUTED_ROW].energy_j == pytest.approx(1000 - 300 - 350)
    assert result.host_energy_j == pytest.approx(1000.0)
    assert result.total_j == pytest.approx(result.host_energy_j)


def test_jobs_outside_any_monitor_run_bring_their_own_window_energy() -> None:
    jobs = [_job("a", 0, 10, None, charged_j=60.0, idle_unallocated_j=30.0, host_energy_j=100.0)]
    result = charge(jobs, [], "tag", "desk")
    rows = {r.group: r.energy_j for r in result.rows}
    assert rows == pytest.approx({"(untagged)": 60.0, IDLE_ROW: 30.0, UNATTRIBUTED_ROW: 10.0})
    assert result.host_sources == {"monitor runs": 0, "job windows": 1}
    assert result.rows[-1].as_dict(Site())["provenance"] == "measured:rapl"


def test_rows_carry_kwh_co2e_and_cost_at_the_site() -> None:
    jobs = [_job("a", 0, 10, "fx", charged_j=3_600_000.0, host_energy_j=3_600_000.0, units=4)]
    row = (
        charge(jobs, [], "tag", "desk")
        .rows[0]
        .as_dict(Site(pue=1.5, grid_g_per_kwh=200.0, price_per_kwh=0.3))
    )
    assert row["kwh"] == pytest.approx(1.0)
    assert row["facility_kwh"] == pytest.approx(1.5)
    assert row["co2e_g"] == pytest.approx(300.0)
    assert row["cost"] == pytest.approx(0.45)
    assert row["j_per_unit"] == pytest.approx(900_000.0)


def test_group_by_forms() -> None:
    assert parse_group_by("tag:desk") == ("tag", "desk")
    assert parse_group_by("command") == ("command", None)
    assert parse_group_by("namespace") == ("namespace", None)
    assert parse_group_by("label:cost-centre") == ("label", "cost-centre")
    for bad in ("tag", "tag:", "host", "unit:x", "label", "pod:x"):
        with pytest.raises(ValueError, match="cgroup, account, namespace, pod or"):
            parse_group_by(bad)

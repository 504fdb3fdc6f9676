"""Page one of a profiling run on a shared host leads with the workload's own figures."""

from __future__ import annotations

from profiler.analysis.profile import LadderSummary
from profiler.model.run import PhaseMetrics, PhaseRecord
from reports.ladder_page import ladder_figures


def _phase(target: float, *, shared: bool, units: float, own_j: float) -> PhaseRecord:
    metrics = PhaseMetrics(
        energy_j=2 * own_j,
        disturbed=True,
        shared_host=shared,
        attributed_energy_j=own_j if shared else None,
    )
    return PhaseRecord(
        workload="risk",
        device_id="cpu:0",
        target_load=target,
        t_start=0.0,
        t_end=4.0,
        units=units,
        unit="scenario",
        metrics=metrics,
    )


def _summary() -> LadderSummary:
    return LadderSummary("risk", "cpu:0", "scenario", "estimated:vcpu-average", 50.0, None, None)


def test_a_shared_100_percent_level_gives_its_own_units_per_joule() -> None:
    phases = [_phase(1.0, shared=True, units=1_000.0, own_j=4.0)]
    [figures] = ladder_figures([_summary()], phases)
    assert figures.shared
    assert figures.units_per_j == 250.0
    assert figures.j_per_1000_units == 4.0


def test_without_a_shared_share_the_figures_stay_absent() -> None:
    phases = [_phase(1.0, shared=False, units=1_000.0, own_j=4.0)]
    [figures] = ladder_figures([_summary()], phases)
    assert not figures.shared
    assert figures.units_per_j is None and figures.j_per_1000_units is None

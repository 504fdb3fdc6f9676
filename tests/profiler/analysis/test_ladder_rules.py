from __future__ import annotations

from profiler.analysis.assess import assess_profile
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.savings import Site


def _phase(device: str, load: float, ups: float, watts: float, prov: str) -> PhaseRecord:
    return PhaseRecord(
        "risk",
        device,
        load,
        0.0,
        60.0,
        ups * 60,
        "scenario",
        load,
        True,
        PhaseMetrics.of(
            units_per_s=ups,
            mean_power_w=watts,
            units_per_j=ups / watts if watts else None,
            provenance=prov,
        ),
    )


def _ladder(device: str, prov: str, idle_w: float, peak_w: float, peak_ups: float) -> list:
    phases = [
        _phase(device, k / 10, peak_ups * k / 10, idle_w + (peak_w - idle_w) * k / 10, prov)
        for k in range(10, 0, -1)
    ]
    return [*phases, _phase(device, 0.0, 0.0, idle_w, prov)]


def test_poor_proportionality_and_low_efficiency_from_a_measured_ladder() -> None:
    phases = _ladder("cpu", "measured:rapl", idle_w=180.0, peak_w=200.0, peak_ups=1000.0)
    result = assess_profile(phases, Site(), observed_util=0.2)
    rules = {f.rule: f for f in result.findings}
    assert set(rules) == {"POOR_PROPORTIONALITY", "LOW_EFFICIENCY_HOST"}
    assert rules["POOR_PROPORTIONALITY"].severity == "warning"
    assert rules["POOR_PROPORTIONALITY"].confidence == "medium"  # RAPL + ladder on host
    assert rules["LOW_EFFICIENCY_HOST"].evidence["rel_eff"] < 0.5
    assert result.metrics["workloads"][0]["ep"] is not None


def test_estimated_ladder_is_not_a_hardware_finding() -> None:
    phases = _ladder("cpu", "estimated:linear-tdp", idle_w=180.0, peak_w=200.0, peak_ups=1000.0)
    result = assess_profile(phases, Site(), observed_util=0.2)
    assert [f.rule for f in result.findings] == ["POOR_PROPORTIONALITY"]
    finding = result.findings[0]
    assert finding.severity == "info" and finding.confidence == "low"
    assert finding.evidence["estimated"] is True
    assert any("restate" in a for a in finding.assumptions)


def test_better_placement() -> None:
    phases = _ladder("cpu", "measured:rapl", 50.0, 200.0, 1000.0) + _ladder(
        "gpu:0", "measured:nvml-energy", 50.0, 300.0, 6000.0
    )
    result = assess_profile(phases, Site())
    placement = [f for f in result.findings if f.rule == "BETTER_PLACEMENT"]
    assert [(f.device, f.recommendation) for f in placement] == [("cpu", {"device": "gpu:0"})]
    assert placement[0].evidence["ratio"] >= 1.5
    assert not any(f.rule.startswith(("IDLE", "OVER", "UNDER")) for f in result.findings)

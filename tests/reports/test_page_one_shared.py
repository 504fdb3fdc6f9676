"""A profiling run on a shared host: page one leads with the workload's own figures, the
phase tables (CLI and report) and `run --json` give one units/J (the workload's own share
by CPU time, marked), and the shared-host summary lines read in zh-CN too."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console

from profiler.analysis.assess import Assessment
from profiler.analysis.phases import workload_figures
from profiler.analysis.profile import LadderSummary, summarise_ladders
from profiler.cli.run import phase_json
from profiler.cli.run_view import phase_table
from profiler.model.run import PhaseMetrics, PhaseRecord
from reports.data import ReportData
from reports.i18n import language
from reports.ladder_page import ladder_figures
from reports.lines import line_text
from reports.renderers.run import RunRenderer, RunReport
from tests.reports import samples
from tests.reports.test_report import Cells


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


def test_the_overall_tile_on_a_shared_host_is_the_clis_summary_figure() -> None:
    """Page one's "overall over the ladder" is the CLI summary's units/J, not n/a."""
    phases = [
        _phase(1.0, shared=True, units=1_000.0, own_j=4.0),
        _phase(0.5, shared=True, units=500.0, own_j=3.0),
        _phase(0.0, shared=True, units=0.0, own_j=1.0),
    ]
    [summary] = summarise_ladders(phases)
    [figures] = ladder_figures([summary], phases)
    assert summary.attributed_units_per_j == pytest.approx(1_500.0 / 7.0)
    assert figures.overall_units_per_j == summary.attributed_units_per_j
    assert figures.units_per_j == 250.0  # the 100 % level's own, as before


def test_without_a_shared_share_the_figures_stay_absent() -> None:
    phases = [_phase(1.0, shared=False, units=1_000.0, own_j=4.0)]
    [figures] = ladder_figures([_summary()], phases)
    assert not figures.shared
    assert figures.units_per_j is None and figures.j_per_1000_units is None


def _shared_sample() -> tuple[ReportData, PhaseRecord]:
    """The sample ladder with its 50 % CPU level on a shared host: 40 % of 3,960 J its own."""
    data = samples.run_sample()
    phases = list(data.phases)
    k = next(i for i, p in enumerate(phases) if p.device_id == "cpu:0" and p.target_load == 0.5)
    idle = next(i for i, p in enumerate(phases) if p.device_id == "cpu:0" and p.units == 0)
    for i in (k, idle):
        m = phases[i].metrics
        phases[i] = replace(
            phases[i],
            metrics=replace(
                m,
                shared_host=True,
                attributed_energy_j=0.4 * float(m.energy_j or 0.0),
                attributed_provenance="attributed:cpu-time(estimated:linear-tdp)",
                idle_share="none",
            ),
        )
    return replace(data, phases=phases), phases[k]


def _number(text: str) -> float:
    return float(text.rstrip("*").replace(",", "").split()[0])


def test_the_phase_tables_and_json_give_one_units_per_joule_on_a_shared_host() -> None:
    data, shared = _shared_sample()
    # 72,000 units; the host's CPU 3,960 J (55.0 J/1k), the workload's own 1,584 J
    own = workload_figures(shared)
    assert own.shared
    assert own.j_per_1000_units == pytest.approx(22.0)
    assert own.units_per_j == pytest.approx(72_000 / 1_584)
    shape = phase_json(shared)
    assert shape["own_j_per_1000_units"] == pytest.approx(22.0)
    assert shape["own_units_per_j"] == pytest.approx(72_000 / 1_584)
    assert shape["own_mean_power_w"] == pytest.approx(1_584 / 60)
    assert shape["j_per_1000_units"] == pytest.approx(55.0)  # the devices' figure, beside

    html = RunRenderer(site=samples.SITE).render(RunReport(data, Assessment([], {}, [])))
    cells = Cells()
    cells.feed(html)
    row = data.phases.index(shared)
    report_j = cells.by_class["j-per-1000"][row]
    report_upj = cells.by_class["units-per-j"][row]
    assert report_j.endswith("*") and _number(report_j) == pytest.approx(22.0)
    assert report_upj.endswith("*") and _number(report_upj) == pytest.approx(45.5, abs=0.05)
    assert _number(cells.by_class["mean-power"][row]) == pytest.approx(26.4)
    assert "the host drew 66.0 W" in html
    idle_row = next(i for i, p in enumerate(data.phases) if p.device_id == "cpu:0" and p.units == 0)
    assert cells.by_class["units-per-j"][idle_row] == "n/a"  # no figure, no mark
    assert "shared host: the workload's own share" in cells.by_id["shared-phases"]

    console = Console(width=100, record=True)
    console.print(phase_table(data.phases))
    rows = [[c.strip() for c in line.split("│")] for line in console.export_text().splitlines()]
    (cli_row,) = [r for r in rows if r[1:4] == ["risk", "cpu:0", "50%"]]
    assert cli_row[6] == "26.40*" and cli_row[7] == "22*"  # W and J/1k units: its own


def test_a_clean_phase_shows_its_devices_figures_unmarked() -> None:
    data, _ = _shared_sample()
    clean = next(p for p in data.phases if p.device_id == "cpu:0" and p.target_load == 0.75)
    own = workload_figures(clean)
    assert not own.shared
    assert own.units_per_j == clean.metrics.units_per_j
    assert phase_json(clean)["own_units_per_j"] == clean.metrics.units_per_j


def _disturbed(target: float, *, foreign: float = 0.7) -> PhaseRecord:
    metrics = PhaseMetrics.of(
        seconds=4.0,
        energy_j=28.0,
        mean_power_w=7.0,
        units_per_s=1000.0 * target,
        provenance="estimated:vcpu-average",
        foreign_cpu_share=foreign,
        disturbed=True,
        shared_host=True,
        attributed_energy_j=5.0 * target,
        attributed_provenance="attributed:cpu-time(estimated:vcpu-average)",
        idle_share="none",
    )
    return PhaseRecord(
        "risk", "cpu:0", target, 0.0, 4.0, 4000.0 * target, "scenario", target, False, metrics
    )


def _clean(target: float) -> PhaseRecord:
    metrics = PhaseMetrics.of(
        seconds=4.0, energy_j=28.0, mean_power_w=7.0, units_per_s=1000.0 * target,
        provenance="estimated:vcpu-average", foreign_cpu_share=0.0, disturbed=False,
    )  # fmt: skip
    return PhaseRecord(
        "risk", "cpu:0", target, 0.0, 4.0, 4000.0 * target, "scenario", target, True, metrics
    )


@pytest.mark.parametrize(
    "phases",
    [
        [_disturbed(1.0), _disturbed(0.5), _disturbed(0.0)],  # no clean phase at all
        [_disturbed(1.0, foreign=0.2), _clean(0.5), _clean(0.0)],  # no clean 100 % level
    ],
)
def test_the_shared_host_summary_lines_are_translated_to_zh_cn(
    phases: list[PhaseRecord],
) -> None:
    (summary,) = summarise_ladders(phases)
    zh = language("zh-CN")
    lines = [summary.note, summary.shared_host]
    assert all(lines), lines
    for line in lines:
        assert line is not None
        text = line_text(line, zh)
        assert not text.english, line
        assert "shared host" not in text.text and "clean" not in text.text
    assert "共享主机" in line_text(str(summary.shared_host), zh).text
    assert (
        "attributed:cpu-time(estimated:vcpu-average)"
        in line_text(str(summary.shared_host), zh).text
    )

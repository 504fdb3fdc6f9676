"""Charts carry information: invalid and disturbed phases are never drawn as valid,
quantities start at zero, and the axes use plain numbers."""

from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from reports import charts
from reports.data import phase_state
from reports.i18n import language
from tests.reports import samples

EN = language("en")


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the charts draw, kept instead of encoded."""
    figures: list[Figure] = []

    def keep(fig: Figure) -> str:
        figures.append(fig)
        return "data:image/svg+xml;base64,"

    monkeypatch.setattr(charts, "to_data_uri", keep)
    return figures


def test_sample_phases_cover_every_state() -> None:
    states = {phase_state(p) for p in samples.run_sample().phases}
    assert states == {"valid", "invalid", "disturbed"}


def test_j_per_1000_units_has_no_bar_for_an_invalid_100_percent_level(drawn: list[Any]) -> None:
    data = samples.run_sample()
    assert charts.j_per_1000_chart(data.phases, EN) is not None
    (ax,) = drawn[0].axes
    widths = {
        t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)
    }
    gpu = next(p for p in data.phases if p.device_id == "gpu:0" and p.target_load == 1.0)
    assert widths == {"cpu:0": 0.0, "gpu:0": pytest.approx(gpu.metrics.j_per_1000_units)}
    notes = [t.get_text() for t in ax.texts]
    assert any("invalid" in n for n in notes)
    assert ax.get_xlim()[0] == 0
    assert "e" not in ax.xaxis.get_major_formatter()(12000.0, 0)  # no 1e4


def test_power_vs_load_draws_only_clean_levels_on_the_curve(drawn: list[Any]) -> None:
    data = samples.run_sample()
    assert charts.power_vs_load_chart(data.ladders, data.phases, EN) is not None
    cpu_ax = drawn[0].axes[0]
    curve = cpu_ax.lines[0]
    clean_w = sorted(
        p.metrics.mean_power_w
        for p in data.phases
        if p.device_id == "cpu:0" and phase_state(p) == "valid"
    )
    assert sorted(np.asarray(curve.get_ydata(), dtype=float)) == clean_w
    assert 95.0 not in clean_w and 66.0 not in clean_w  # the invalid and the disturbed level
    labels = cpu_ax.get_legend_handles_labels()[1]
    assert "invalid level (not used)" in labels and "disturbed level (not used)" in labels
    assert cpu_ax.get_ylim()[0] == 0
    gpu_ax = drawn[0].axes[1]
    assert "ideal: proportional" in gpu_ax.get_legend_handles_labels()[1]
    assert "EP" in gpu_ax.get_title()


def test_the_power_axis_starts_at_zero_and_idle_is_annotated(drawn: list[Any]) -> None:
    data = samples.run_sample()
    cpu = next(t for t in data.timelines if t.device == "cpu:0")
    charts.timeline_chart(cpu, data.phases, EN)
    ax_p = drawn[0].axes[0]
    assert ax_p.get_ylim()[0] == 0  # 38 W of noise is not drawn as deep drops
    assert "idle" in ax_p.get_title(loc="left")
    host = next(t for t in data.timelines if t.device == "host")
    charts.timeline_chart(host, data.phases, EN)
    assert len(drawn[1].axes) == 1  # no blank power panel for a device without power

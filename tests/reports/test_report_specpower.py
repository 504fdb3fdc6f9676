"""The report labels a SPECpower-curve estimate with its group, result count and error."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from profiler.analysis.curve import SERVER_SHARE_NOTE
from profiler.model.device import DeviceRecord
from profiler.model.run import RunRecord
from profiler.model.run_data import RunData
from profiler.model.series import device_series
from profiler.model.units import parse_iso
from profiler.sensors.specpower.curve import SpecpowerCurveModel, choose_group
from reports.data import report_data
from reports.i18n import language
from reports.lines import translate_line
from reports.renderers.run import RunRenderer, RunReport
from tests.fakes.cpu import scripted_cpu_sensors


def test_the_device_table_names_the_group_its_results_and_its_error(tmp_path: Path) -> None:
    cpu = scripted_cpu_sensors(
        tmp_path,
        [[(0.5 * k, float(k))] * 2 for k in range(3)],
        memory=(8 * 2**30, 4 * 2**30),
        cpu_model="AMD EPYC",
    )
    (info,) = SpecpowerCurveModel(cpu).devices()
    run = RunRecord(
        "r1", "monitor", "vm", "h", parse_iso("2026-11-01T00:00:00.000Z"),
        parse_iso("2026-11-01T00:00:10.000Z"), "complete", {}, "0", interval_s=1.0,
    )  # fmt: skip
    t = np.arange(1.0, 11.0)
    watts = info.details["model_curve_w"][5][1]
    series = device_series(info, t, util=np.full(t.size, 0.5), power_w=np.full(t.size, watts))
    html = RunRenderer().render(
        RunReport(report_data(RunData(run, (DeviceRecord(info),), (), {"cpu:0": series})))
    )
    row = choose_group("AMD EPYC")
    assert "estimated:specpower-curve" in html
    assert f"SPECpower group AMD EPYC (family, {row.results} published results)" in html
    assert f"90th percentile {row.err_p90_pct:.0f} %" in html


def test_the_savings_notes_of_a_specpower_curve_are_translated() -> None:
    zh = language("zh-CN")
    label = "SPECpower curve of AMD EPYC over 1 CPU package(s)"
    assert translate_line(f"host power curve: {label}", zh) == (
        "主机功耗曲线：1 个 CPU 封装上的 AMD EPYC SPECpower 曲线"  # noqa: RUF001
    )
    assert translate_line(SERVER_SHARE_NOTE, zh) == (
        "节省量涵盖 CPU 封装所占服务器墙插功耗的份额（SPECpower 曲线）"  # noqa: RUF001
    )

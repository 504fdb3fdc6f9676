"""Empty states say so once: no findings, no GPU, no label, no power figure."""

from dataclasses import replace

from profiler.analysis.assess import Assessment
from reports.renderers.run import RunRenderer, RunReport
from tests.reports import samples
from tests.reports.test_report import Cells


def test_no_findings_no_gpu_and_no_label_each_say_so_once() -> None:
    data = samples.run_sample(label=None)
    data = replace(
        data,
        devices=[d for d in data.devices if d.info.kind != "gpu"],
        phases=[p for p in data.phases if p.device_id != "gpu:0"],
    )
    no_findings = Assessment([], {}, samples.SITE.assumptions())
    html = RunRenderer(site=samples.SITE).render(RunReport(data, no_findings))
    cells = Cells()
    cells.feed(html)
    assert html.count("No findings") == 1 and 'id="findings"' not in html
    assert html.count("No GPU in this run") == 1
    assert cells.by_id["run-title"].startswith(data.run.id)  # no "(no label)" placeholder
    assert "(no label)" not in html
    assert "n/a" not in cells.by_id["verdict"]


def test_not_analysed_says_so_instead_of_no_findings() -> None:
    html = RunRenderer(site=samples.SITE).render(RunReport(samples.run_sample()))
    assert "Not analysed" in html and "No findings" not in html
    assert "no analysis: findings and savings are not shown" in html

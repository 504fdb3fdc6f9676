"""Each report kind in a real browser: Nu validator, axe-core, screenshots, print to PDF.

The pages are the realistic samples of `tests/reports/samples.py` (invalid and disturbed
phases, a GPU, findings with savings) in English and Chinese. Pixel-exact goldens would
break with every Chromium or font update, so the screenshots a person looked at live in
docs/ (`python -m tests.reports.screenshots`) and these tests check structure instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from profiler.workflows.report import print_pdf
from reports.renderers.fleet import FleetRenderer, FleetReport
from reports.renderers.run import RunRenderer, RunReport
from reports.renderers.window import WindowRenderer, WindowReport
from tests.reports import demand_samples, samples
from tests.reports.browser import (
    VNU_FALSE_POSITIVE,
    axe_violations,
    chromium,
    screenshot,
    vnu_messages,
)

KINDS = ("run", "window", "fleet", "window-demand", "fleet-pools")
"""The three kinds, and the window and fleet of a month with demand findings."""
LANGS = ("en", "zh-CN")


def render(kind: str, lang: str) -> str:
    """Return the sample report of `kind` in `lang`."""
    if kind == "window-demand":
        demand = WindowReport(
            host="batch-01",
            runs=[samples.run_sample().run],
            trend=samples.window_trend(),
            assessment=demand_samples.batch_assessment(),
            assumptions=samples.SITE.assumptions(),
            demand=demand_samples.batch_demand(),
        )
        return WindowRenderer(site=samples.SITE, lang=lang).render(demand)
    if kind == "fleet-pools":
        pools = FleetReport("http://127.0.0.1:9090", demand_samples.pool_document(), [])
        return FleetRenderer(site=samples.SITE, lang=lang).render(pools)
    if kind == "run":
        run = RunReport(samples.run_sample(), samples.run_assessment(), samples.host_history())
        return RunRenderer(site=samples.SITE, lang=lang).render(run)
    if kind == "window":
        window = WindowReport(
            host="bank-node-07",
            runs=[samples.run_sample().run],
            trend=samples.window_trend(),
            assessment=samples.run_assessment(),
            assumptions=samples.SITE.assumptions(),
            annual=samples.window_annual(),
        )
        return WindowRenderer(site=samples.SITE, lang=lang).render(window)
    fleet = FleetReport(
        source="http://127.0.0.1:9090",
        document=samples.fleet_document(),
        assumptions=samples.SITE.assumptions(),
    )
    return FleetRenderer(site=samples.SITE, lang=lang).render(fleet)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("pages")
    written = {}
    for kind in KINDS:
        for lang in LANGS:
            page = folder / f"{kind}-{lang}.html"
            page.write_text(render(kind, lang), encoding="utf-8")
            written[kind, lang] = page
    return written


def test_nu_validator_finds_no_html_or_css_errors(pages: dict[tuple[str, str], Path]) -> None:
    messages = vnu_messages(list(pages.values()))
    errors = [m for m in messages if m["type"] == "error"]
    assert errors == []
    others = [m for m in messages if not m["message"].startswith(VNU_FALSE_POSITIVE)]
    assert others == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGS)
def test_axe_finds_no_wcag_a_or_aa_violations(
    pages: dict[tuple[str, str], Path], kind: str, lang: str, tmp_path: Path
) -> None:
    violations = axe_violations(pages[kind, lang], tmp_path)
    assert [(v["id"], v["help"], len(v["nodes"])) for v in violations] == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_with_the_executive_summary_first(
    pages: dict[tuple[str, str], Path], kind: str, tmp_path: Path
) -> None:
    import matplotlib.image

    png = screenshot(pages[kind, "en"], tmp_path / f"{kind}.png")
    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (1400, 1200) and pixels.std() > 0.05  # not a blank page
    html = pages[kind, "en"].read_text(encoding="utf-8")
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert headings[0] == "1. Executive summary"
    summary = html.split("<h2>", 2)[1]
    assert 'id="top-findings"' in summary and "IDLE_GPU" not in summary.split("Top actions")[0]
    assert html.count('class="kpi"') >= 3
    # a savings waterfall wherever findings save energy
    assert "savings waterfall" in html


def test_print_to_pdf_breaks_pages_between_sections_and_embeds_a_cjk_font(
    pages: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    chromium()
    pdf = print_pdf(pages["run", "zh-CN"], tmp_path / "run.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    sections = pages["run", "zh-CN"].read_text(encoding="utf-8").count("<section")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= sections
    assert b"CJK" in data, "no CJK font in the PDF: install fonts-noto-cjk"

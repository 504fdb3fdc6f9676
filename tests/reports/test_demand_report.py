# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""'When is the capacity used': a synthetic month of a nightly batch host, in both languages.

The profiles and findings come from the pure core (`tests/reports/demand_samples.py`);
the page's figures are compared with the analysis' own numbers, formatted as the report
formats them.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from profiler.analysis.assess import Assessment
from profiler.analysis.week import Window
from reports import numbers
from reports.demand import Demand, windows_text
from reports.finding_text import finding_text
from reports.i18n import language
from reports.renderers.fleet import FleetRenderer, FleetReport
from reports.renderers.run import RunRenderer, RunReport
from reports.renderers.window import WindowRenderer, WindowReport
from tests.reports import demand_samples, samples

LANGS = ("en", "zh-CN")


def _window(lang: str, demand: Demand | None, assessment: Assessment | None = None) -> str:
    record = WindowReport(
        host="batch-01",
        runs=[],
        trend=samples.window_trend(),
        assessment=assessment or demand_samples.batch_assessment(),
        assumptions=samples.SITE.assumptions(),
        demand=demand,
    )
    return WindowRenderer(site=samples.SITE, lang=lang).render(record)


def _section(page: str, ident: str = "demand") -> str:
    found = re.search(rf'<section id="{ident}">.*?</section>', page, re.DOTALL)
    assert found is not None, ident
    return found.group(0)


def _device(section: str, device: str) -> str:
    """Return the part of the section about one device (from its h3 to the next)."""
    start = section.index(f'<h3 id="demand-{device}">')
    end = section.find("<h3 ", start + 1)
    return section[start : end if end > 0 else len(section)]


def _cells(table: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows[1:]]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return {lang: _window(lang, demand_samples.batch_demand()) for lang in LANGS}


@pytest.mark.parametrize("lang", LANGS)
def test_the_section_renders_for_a_nightly_batch_month(pages: dict[str, str], lang: str) -> None:
    section = _section(pages[lang])
    title = {"en": "5. When is the capacity used", "zh-CN": "5. 容量何时被使用"}[lang]
    assert f"<h2>{title}</h2>" in section
    for device in ("host", "cpu:0"):
        part = _device(section, device)
        charts = re.findall(r'<img class="chart" alt="([^"]+)" src="data:image/svg\+xml', part)
        # use heatmap, (cpu:0) power heatmap, load-duration curve; each with its text
        assert len(charts) == (3 if device == "cpu:0" else 2)
        assert f'id="use-{device}"' in part  # the heatmap's data table alternative
        assert 'class="schedule"' in part and "<pre class=" in part
    assert "Europe/London" in section


@pytest.mark.parametrize("lang", LANGS)
def test_the_page_loads_nothing_from_the_network(pages: dict[str, str], lang: str) -> None:
    page = pages[lang]
    assert "http://" not in page and "https://" not in page and "<script" not in page
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/svg+xml;base64,") for s in sources)
    assert "default-src 'none'" in page


def test_the_use_table_equals_the_profile(pages: dict[str, str]) -> None:
    for index, device in enumerate(("host", "cpu:0")):
        part = _device(_section(pages["en"]), device)
        table = re.search(rf'<table class="week" id="use-{device}">.*?</table>', part, re.S)
        assert table is not None
        shown = [cell for row in _cells(table.group(0)) for cell in row]
        expected = [format(v, ".0f") for v in demand_samples.mean_use_of(index)]
        assert shown == expected
        # the batch hours stand out: 35 % at 23:00 and 00:00, 2 % otherwise
        busy = demand_samples.busy_cells()
        assert {i for i, v in enumerate(shown) if int(v) >= 30} == busy


def test_the_power_table_equals_the_profile(pages: dict[str, str]) -> None:
    part = _device(_section(pages["en"]), "cpu:0")
    table = re.search(r'<table class="week" id="power-cpu:0">.*?</table>', part, re.S)
    assert table is not None
    profile = demand_samples.batch_demand().devices[1].profile
    shown = [cell for row in _cells(table.group(0)) for cell in row]
    assert shown == [format(v, ".3g") for v in profile.power_mean_w]
    assert 'id="power-host"' not in _section(pages["en"])  # the host row has no power


def test_the_profile_figures_equal_the_analysis(pages: dict[str, str]) -> None:
    section = _section(pages["en"])
    for item in demand_samples.batch_demand().devices:
        part = _device(section, item.profile.device_id)
        p = item.profile
        weeks = re.search(r'class="num weeks">([^<]+)<', part)
        hours = re.search(r'class="num busy-hours">([^<]+)<', part)
        regular = re.search(r'class="num regular">([^<]+)<', part)
        assert weeks and weeks.group(1) == numbers.sig(p.weeks_observed) == "4.00"
        assert hours and hours.group(1) == numbers.sig(p.busy_hours_per_week) == "14.0"
        assert regular and regular.group(1) == f"{p.regular_weeks} of {p.n_weeks}" == "4 of 4"
        assert "every day 23:00–01:00" in part


def test_the_schedule_and_its_yearly_figures_are_the_findings(pages: dict[str, str]) -> None:
    section = _section(pages["en"])
    for finding in demand_samples.batch_findings():
        part = _device(section, finding.device)
        spans = _cells(re.search(r'<table class="schedule".*?</table>', part, re.S).group(0))  # type: ignore[union-attr]
        assert spans == [["every day", "01:00", "22:45", "21.8"]]  # 7 spans, one a day
        assert finding.savings is not None
        facility = finding.savings.facility_kwh_per_year.point
        kwh = re.search(r'class="value schedule-kwh">([^<]+)<', part)
        co2e = re.search(r'class="value schedule-co2e">([^<]+)<', part)
        cost = re.search(r'class="value schedule-cost">([^<]+)<', part)
        assert kwh and kwh.group(1) == numbers.energy_kwh(facility)
        assert co2e and co2e.group(1) == numbers.mass_kg(finding.savings.co2e_kg_per_year.point)
        assert finding.savings.cost_per_year is not None
        assert cost and cost.group(1) == numbers.money(finding.savings.cost_per_year.point)
        forms = finding.recommendation["forms"]
        blocks = [html.unescape(b) for b in re.findall(r"<pre[^>]*><code>(.*?)</code>", part, re.S)]
        expected = [forms["finwatt_toml"], forms["cron"], forms["kube_green"]]
        assert blocks == [*expected, *(forms["systemd"][k] for k in sorted(forms["systemd"]))]


def test_the_saving_says_where_its_idle_power_comes_from(pages: dict[str, str]) -> None:
    section = _section(pages["en"])
    host, cpu = _device(section, "host"), _device(section, "cpu:0")
    assert "the labelled power model" in host and "ESTIMATED" in host
    assert "Idle power 50.0 W" in host
    assert "measured power in its idle hours" in cpu and 'class="badge measured"' in cpu
    assert "Idle power 62.0 W" in cpu  # 60 W + 100 W x 2 % idle use, measured


def test_the_load_duration_curve_draws_the_recommended_capacity() -> None:
    sized = samples.findings()[2].as_dict()  # OVER_PROVISIONED_CPU: 10 cores for `host`
    assert sized["rule"] == "OVER_PROVISIONED_CPU"
    findings = [*demand_samples.batch_findings(), samples.findings()[2]]
    page = _window("en", demand_samples.batch_demand(), Assessment(findings, {}, []))
    host = _device(_section(page), "host")
    assert "Provisioned: 4 cores." in host
    assert "Recommended: 10 cores (OVER_PROVISIONED_CPU)." in host
    alone = _device(_section(_window("en", demand_samples.batch_demand())), "host")
    assert "The analysis recommends no other size." in alone


def test_office_hours_are_off_nights_and_weekends_waking_days_later() -> None:
    finding = demand_samples.office_finding()
    assert finding.rule == "OFF_HOURS_IDLE"
    page = _window("en", demand_samples.office_demand(), Assessment([finding], {}, []))
    part = _device(_section(page), "host")
    rows = _cells(re.search(r'<table class="schedule".*?</table>', part, re.S).group(0))  # type: ignore[union-attr]
    assert rows == [
        ["Mon–Thu", "17:00", "08:45, 1 day(s) later", "15.8"],
        ["Fri", "17:00", "08:45, 3 day(s) later", "63.8"],
    ]
    assert "Mon–Fri 09:00–17:00" in part


def test_without_a_schedule_finding_the_section_says_why_none_is_proposed() -> None:
    page = _window("en", demand_samples.batch_demand(), Assessment([], {}, []))
    section = _section(page)
    assert section.count('class="no-schedule"') == 2
    assert 'class="schedule"' not in section and "<pre" not in section


def test_the_chinese_section_is_chinese_outside_names_and_the_forms(pages: dict[str, str]) -> None:
    section = _section(pages["zh-CN"])
    text = re.sub(r"<pre.*?</pre>|<code.*?</code>|<img[^>]*>", " ", section, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    names = ("Europe/London", "measured:rapl", "cpu:0", "host", "cron", "systemd")
    names += (samples.SITE.grid_label,)
    for name in names:
        text = text.replace(name, " ")
    words = re.findall(r"[A-Za-z][A-Za-z0-9]+", text)
    assert [w for w in words if not w.isupper() and w not in {"kg", "kWh", "CO2e"}] == []
    assert "周一" in section and "每天 23:00–01:00" in section
    assert "<td>每天</td><td>01:00</td><td>22:45</td>" in section


def test_a_run_shorter_than_a_week_gets_one_sentence_instead() -> None:
    short = Demand("Europe/London", 900.0)
    run = RunReport(samples.run_sample(), samples.run_assessment(), demand=short)
    for lang in LANGS:
        section = _section(RunRenderer(site=samples.SITE, lang=lang).render(run))
        assert 'id="demand-too-short"' in section and "<img" not in section
        assert ("15.0 min" if lang == "en" else "15.0 分钟") in section


def test_the_run_report_shows_a_month_long_run() -> None:
    run = RunReport(
        samples.run_sample(),
        demand_samples.batch_assessment(),
        demand=demand_samples.batch_demand(),
    )
    page = RunRenderer(site=samples.SITE, lang="en").render(run)
    section = _section(page)
    assert "<h2>6. When is the capacity used</h2>" in section
    assert section.count('class="schedule"') == 2
    assert re.findall(r"<h2>(\d)\.", page) == [str(n) for n in range(1, 9)]


@pytest.mark.parametrize("lang", LANGS)
def test_the_fleet_report_lists_the_pools_of_complementary_hosts(lang: str) -> None:
    document = demand_samples.pool_document()
    page = FleetRenderer(site=samples.SITE, lang=lang).render(
        FleetReport("http://p:9090", document, [])
    )
    section = _section(page, "pools")
    finding = demand_samples.pool_finding()
    pool = finding.evidence["pools"][0]
    table = re.search(r'<table class="pools">.*?</table>', section, re.S)
    assert table is not None
    row = [re.sub(r"<[^>]+>", "", c) for c in _cells(table.group(0))[0]]
    assert row == [
        "1",
        ", ".join(pool["members"]),
        pool["carried_by"],
        numbers.sig(pool["sum_of_peaks"]),
        numbers.sig(pool["peak_of_sum"]),
        numbers.sig(pool["sized_capacity"]),
        numbers.sig(pool["diversity_factor"]),
    ]
    assert (
        float(row[3]) > 8 * 0.8 >= float(row[4])
    )  # the peaks add up past one host, the sum does not
    assert numbers.energy_kwh(finding.savings.facility_kwh_per_year.point) in section  # type: ignore[union-attr]


def test_a_fleet_document_without_pools_says_so() -> None:
    page = FleetRenderer(site=samples.SITE).render(
        FleetReport("http://p:9090", samples.fleet_document(), [])
    )
    assert "No hosts with complementary peaks in this document." in _section(page, "pools")


def test_windows_are_written_grouped_by_time_of_day() -> None:
    en, zh = language("en"), language("zh-CN")
    office = [Window(24 * d + 9, 8) for d in range(5)]
    assert windows_text(office, en) == "Mon–Fri 09:00–17:00"
    assert windows_text(office, zh) == "周一–周五 09:00–17:00"
    nightly = [Window(24 * d + 23, 2) for d in range(7)]
    assert windows_text(nightly, en) == "every day 23:00–01:00"
    assert windows_text([Window(2, 3), Window(24 * 5 + 2, 3)], en) == "Mon, Sat 02:00–05:00"
    assert windows_text([], en) == ""


def test_the_batch_is_seen_in_local_time_across_the_profile() -> None:
    use = demand_samples.mean_use_of(0)
    assert np.all(use[sorted(demand_samples.busy_cells())] > 30)
    assert np.all(np.delete(use, sorted(demand_samples.busy_cells())) < 3)


def test_a_host_hot_only_in_windows_gets_the_windows_in_chinese() -> None:
    finding = demand_samples.hot_under_finding()
    zh = finding_text(finding.as_dict(), language("zh-CN"))
    assert not zh.english
    assert zh.text.startswith("host 仅在周一–周五 15:00–17:00高负载运行（每周 10 小时")
    extra = finding.evidence["needed_cores"] - 4
    assert f"临时增加 {numbers.sig(extra)} 个核" in zh.text
    assert "加容量" not in zh.text  # no bare "add capacity"


def test_the_rules_that_see_time_carry_their_figures_in_chinese() -> None:
    zh = language("zh-CN")
    by_rule = {f.rule: finding_text(f.as_dict(), zh).text for f in demand_samples.time_rules()}
    assert "每天 23:00–01:00（Europe/London）" in by_rule["PEAK_SIZED_HOST"]
    assert "62.0 W 的空闲功率（实测）" in by_rule["PEAK_SIZED_HOST"]
    assert "工作时间（周一–周五 09:00–17:00" in by_rule["OFF_HOURS_IDLE"]
    gpu = by_rule["PEAK_SIZED_GPU"]
    assert "周一–周五 18:00–21:00" in gpu and "MIG" in gpu
    assert "2 台 8 核主机" in by_rule["COMPLEMENTARY_PEAKS"]
    assert "腾出 1 台" in by_rule["COMPLEMENTARY_PEAKS"]

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""zh-CN finding text: a sentence per rule from the evidence, known analyzer lines translated.

The findings come from the analyzer itself (`tests/reports/all_rules.py`); the report's
machine-readable fields (rule ids, devices, evidence keys) stay English, everything a
person reads in the findings section is Chinese.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from profiler.model.findings import Finding
from reports.finding_text import finding_text
from reports.i18n import language
from reports.lines import line_text, translate_line
from reports.renderers.fleet import FleetRenderer, FleetReport
from reports.renderers.run import RunRenderer, RunReport
from tests.reports import samples
from tests.reports.all_rules import RULES, every_rule

ZH = language("zh-CN")

ALLOWED = {
    # units and symbols
    "kWh", "Wh", "mWh", "MWh", "GiB", "W", "kW", "kg", "g", "t", "h", "s", "J", "units/J",
    "x", "u", "p", "N", "M", "max", "ceil",
    # acronyms Chinese technical text keeps as they are
    "CPU", "GPU", "DRAM", "IT", "PUE", "EP", "IPR", "SM", "MIG", "RAPL", "NVML", "CO2",
    "CO2e", "P95", "P99.5", "PromQL", "Prometheus",
    # proper names of the sources the assumptions cite
    "AWS", "Compute", "Optimizer", "Azure", "Advisor", "Kubernetes", "VPA", "Ryckbosch",
    "Barroso", "Hoelzle", "Cloud", "Carbon", "Footprint", "Green", "Algorithms", "CodeCarbon",
    "docs/analyzer.md",
    # the IANA zone the samples' schedules are in (a name, as the JSON gives it)
    "Europe/London",
}  # fmt: skip
"""ASCII words a Chinese findings section may hold besides ids, devices and figures."""


def _analyzer_findings() -> list[Finding]:
    return every_rule(samples.SITE)


def _english_words(section: str, names: set[str]) -> list[str]:
    """Return the ASCII words of `section` that are neither ids, names, units nor figures."""
    text = re.sub(r'<td class="evidence">.*?</td>', " ", section, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    words = re.findall(r"[A-Za-z][A-Za-z0-9_:/.+\-]*", text)
    return [
        w
        for w in words
        if w.rstrip("./") not in ALLOWED and not re.search(r"[\d_:]", w) and not w.isupper()
    ]


def test_the_analyzer_emits_every_rule_the_reports_know() -> None:
    assert [f.rule for f in _analyzer_findings()] == list(RULES)


@pytest.mark.parametrize("finding", _analyzer_findings(), ids=lambda f: f.rule)
def test_every_rule_gets_a_chinese_sentence_from_its_evidence(finding: Finding) -> None:
    as_dict = finding.as_dict()
    zh = finding_text(as_dict, ZH)
    assert not zh.english
    assert zh.text != ZH.gettext(zh.title)
    assert re.search(r"[\u4e00-\u9fff]", zh.text), zh.text
    assert _english_words(zh.text, {finding.device, "risk"}) == [], zh.text
    english = finding_text(as_dict, language("en"))
    assert english.text == finding.message  # English keeps the analyzer's sentence


def test_the_chinese_findings_section_has_no_english_sentence_left() -> None:
    findings = _analyzer_findings()
    document: dict[str, Any] = {
        "findings": [f.as_dict() for f in findings],
        "metrics": {"hosts": {"node-0:9100": {}}, "window": {}},
    }
    record = FleetReport("http://127.0.0.1:9090", document, assumptions=[])
    page = FleetRenderer(site=samples.SITE, lang="zh-CN").render(record)
    section = re.search(r'<section id="s2">.*?</section>', page, re.DOTALL)
    assert section is not None
    names = {p for f in findings for p in [f.device, *f.device.split(", ")]}
    names |= {"risk", samples.SITE.grid_label, "Xeon Gold 6248", "estimated:linear-tdp"}
    assert _english_words(section.group(0), names) == []
    assert 'lang="en"' not in section.group(0)
    for f in findings:
        assert f.rule in section.group(0)  # machine-readable ids stay English


def test_sentences_carry_the_evidence_figures_in_report_formatting() -> None:
    by_rule = {f.rule: f.as_dict() for f in _analyzer_findings()}
    idle = finding_text(by_rule["IDLE_HOST"], ZH).text
    assert "1.0 %" in idle and "1.05 MWh" in idle  # 1,051.2 kWh/yr IT, 3 digits
    over = finding_text(by_rule["OVER_PROVISIONED_CPU"], ZH).text
    assert "64 个核中的 6.40 个" in over and "65 %" in over and "生产模式" in over
    placement = finding_text(by_rule["BETTER_PLACEMENT"], ZH).text
    assert "4.00 倍" in placement and "gpu:0" in placement


def test_a_finding_without_the_figures_falls_back_to_title_and_action() -> None:
    bare = {"rule": "IDLE_HOST", "device": "host", "message": "host is idle.", "evidence": {}}
    text = finding_text(bare, ZH)
    assert text.title == "主机空闲" and text.text == ZH.gettext("Shut it down or reclaim it.")
    assert not re.search(r"\d", text.text)  # no figure the finding does not carry


def test_an_unknown_rule_keeps_its_english_message_marked() -> None:
    text = finding_text({"rule": "NEW_RULE", "message": "something new."}, ZH)
    assert text.english and text.text == "something new."


@pytest.mark.parametrize(
    "line",
    [
        "achieved load misses target by more than 5 points",
        "only 80% of expected samples present (need 95%)",
        "no energy figure for the phase's device",
        "energy counter reset 2 time(s) during the phase",
        "disturbed: other processes used 31% of the host's CPU (limit 5%)",
        "no valid 100% level: ladder metrics not computed",
        "no valid active-idle level: ladder metrics not computed",
        "annualised from mean power x 8,760 h/yr",
        "PUE 1.5 (given)",
        "tariff 0.85 per kWh (given; no currency conversion)",
        "grid 581 g CO2/kWh: given (CO2 only, as the source publishes it: not CO2e; "
        "emissions figures count CO2 alone)",
        "idle power 38.0 W: linear model 38.0-150.0 W over 1 CPU package(s)",
    ],
)
def test_known_analyzer_lines_are_translated(line: str) -> None:
    translated = translate_line(line, ZH)
    assert translated is not None and re.search(r"[\u4e00-\u9fff]", translated)
    assert _english_words(translated, {"given"}) == [], translated


def test_figures_and_names_inside_a_line_survive() -> None:
    assert translate_line(
        "disturbed: other processes used 31% of the host's CPU (limit 5%)", ZH
    ) == ("受干扰：其他进程占用了主机 CPU 的 31%（上限 5%）")
    assert translate_line("no valid active-idle level: ladder metrics not computed", ZH) == (
        "没有有效的主动空闲档位：未计算负载阶梯指标"
    )


def test_an_unknown_line_stays_english_and_is_marked() -> None:
    shown = line_text("worker crashed: exit 3", ZH)
    assert shown.english and shown.text == "worker crashed: exit 3"
    assert not line_text("worker crashed: exit 3", language("en")).english


def test_the_run_report_translates_phase_reasons_and_assumptions() -> None:
    record = RunReport(samples.run_sample(), samples.run_assessment())
    page = RunRenderer(site=samples.SITE, lang="zh-CN").render(record)
    assert "实际负载偏离目标超过 5 个百分点" in page
    assert "achieved load misses target" not in page
    assert "按平均功率 × 每年 8,760 小时折算为年值" in page
    assert "PUE 1.5（已给定）" in page


def _fleet_page(lang: str, fleet: dict[str, Any] | None) -> str:
    document = samples.fleet_document()
    document["metrics"]["fleet"] = fleet
    if fleet is None:
        del document["metrics"]["fleet"]
    record = FleetReport("http://127.0.0.1:9090", document, assumptions=[])
    return FleetRenderer(site=samples.SITE, lang=lang).render(record)


def test_the_fleet_method_says_the_fleet_was_screened_with_its_figures() -> None:
    fleet = {"hosts_read": 2, "hosts_screened": 998, "measured_curves": ["node-a:9100"]}
    english = _fleet_page("en", fleet)
    assert "screened in Prometheus first" in english
    assert "2 of 1000 host(s) read in full, 998 screened clear in PromQL" in english
    assert "Hosts with a measured power curve: node-a:9100." in english
    chinese = _fleet_page("zh-CN", fleet)
    assert "1000 台主机中 2 台完整读取，998 台经 PromQL 筛查判定无需读取" in chinese
    assert "具有实测功耗曲线的主机：node-a:9100。" in chinese
    older = _fleet_page("en", None)  # a document from before screening: no figures claimed
    assert "screened clear in PromQL" not in older and "measured power curve:" not in older

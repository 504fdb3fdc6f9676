"""Report languages: the zh-CN catalogue covers every message, and nothing stays English."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from profiler.model.errors import FinwattInputError
from reports.i18n import language
from reports.renderers.run import RunRenderer, RunReport
from tests.fakes.cli import REPO_ROOT
from tests.reports import samples

PO = REPO_ROOT / "reports" / "locale" / "zh_CN" / "LC_MESSAGES" / "finwatt.po"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {
    "templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "True",
        "lstrip_blocks": "True",
    }
}


def extracted() -> set[str]:
    """Every message the reports' code and templates mark for translation."""
    found = extract_from_dir(
        str(REPO_ROOT / "reports"),
        METHODS,
        keywords={"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)},
        options_map=OPTIONS,
    )
    return {m[2] if isinstance(m[2], str) else m[2][0] for m in found}


def test_the_zh_cn_catalogue_translates_every_marked_message() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = extracted() - translated
    assert not missing, f"run pybabel extract/update (docs/report.md) and translate: {missing}"


def test_placeholders_survive_translation() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    for m in catalog:
        if not m.id:
            continue
        for pattern in ("%(", "{"):
            names = sorted(p for p in str(m.id).split(pattern)[1:])
            assert len(names) == len(str(m.string).split(pattern)[1:]), m.id
        assert str(m.id).count("%%") == str(m.string).count("%%"), m.id


def test_an_unknown_language_is_bad_input() -> None:
    with pytest.raises(FinwattInputError, match="en, zh-CN"):
        language("fr")


def test_the_chinese_report_has_no_english_labels_left(tmp_path: Path) -> None:
    record = RunReport(samples.run_sample(), samples.run_assessment(), samples.host_history())
    html = RunRenderer(site=samples.SITE, lang="zh-CN").render(record)
    english = RunRenderer(site=samples.SITE).render(record)
    for label in ("Executive summary", "Top actions", "Data quality", "facility energy per year",
                  "above target", "Method and assumptions", "ESTIMATED"):  # fmt: skip
        assert label in english
        assert label not in html, label
    assert "管理摘要" in html and "估算值" in html and "高于目标" in html
    # machine-readable fields stay English
    assert "IDLE_GPU" in html and "measured:nvml-energy" in html

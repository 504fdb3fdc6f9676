"""SHIFT_WINDOW (profiler.analysis.shift_rules): a recurring batch moved to cleaner hours by hand.

Only a batch whose jobs state a deadline (`--tag deadline=HH:MM`, local time) is ever
moved; the move only delays it, within the deadline; kg CO2e/yr = runs per year x
facility kWh per run x (g/kWh now - g/kWh at the best start) / 1000.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from profiler.analysis.shift_rules import BatchRun, hour_of_day_g, shift_findings
from profiler.model.units import J_PER_KWH
from profiler.settings.carbon import make_site

LONDON = ZoneInfo("Europe/London")  # UTC+0 in early March: local hour = UTC hour
DAY = datetime(2024, 3, 11, tzinfo=UTC)


def diurnal_g(hour: int) -> float:
    return 120.0 + 10.0 * hour + (150.0 if 16 <= hour <= 19 else 0.0)


def hourly_file(
    tmp_path: Path, days: int = 4, skip_hour: int | None = None, day: datetime = DAY
) -> Path:
    lines = ["timestamp,g_per_kwh,gas,source"]
    for d in range(days):
        for h in range(24):
            if h != skip_hour:
                when = day + timedelta(days=d, hours=h)
                lines.append(f"{when:%Y-%m-%dT%H:%MZ},{diurnal_g(h):g},CO2e,made up")
    path = tmp_path / "hourly.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def batch(deadline: str | None, days: int = 3, hour: int = 18) -> list[BatchRun]:
    tags = {} if deadline is None else {"deadline": deadline}
    runs = []
    for d in range(days):
        start = (DAY + timedelta(days=d, hours=hour)).timestamp()
        runs.append(BatchRun("eod-var", tags, start, start + 3600.0, 2 * J_PER_KWH))
    return runs


def test_the_best_start_within_the_deadline_and_its_saving_by_hand(tmp_path: Path) -> None:
    site = make_site(carbon_intensity=400.0, pue=1.0, carbon_hourly=hourly_file(tmp_path))
    (finding,) = shift_findings(batch("23:00"), site, LONDON)
    # 18:00 now (450 g/kWh); 18:00-22:00 possible; 20:00 is the cleanest (320 g/kWh)
    assert finding.rule == "SHIFT_WINDOW" and finding.recommendation == {"start_local": "20:00"}
    assert finding.evidence["grid_now_g_per_kwh"] == pytest.approx(450.0)
    assert finding.evidence["grid_best_g_per_kwh"] == pytest.approx(320.0)
    assert finding.savings is not None
    # 3 runs on 3 of 3 days: 365 runs a year x 2 kWh x 130 g/kWh
    assert finding.savings.co2e_kg_per_year.point == pytest.approx(365 * 2 * 130 / 1000)
    assert finding.savings.facility_kwh_per_year.point == 0.0  # CO2e only, no energy saved


def test_a_deadline_on_the_next_morning_reaches_the_night(tmp_path: Path) -> None:
    site = make_site(carbon_intensity=400.0, pue=1.5, carbon_hourly=hourly_file(tmp_path))
    (finding,) = shift_findings(batch("06:00"), site, LONDON)
    assert finding.recommendation == {"start_local": "00:00"}
    assert finding.savings is not None
    saved = 365 * 2 * 1.5 * (diurnal_g(18) - diurnal_g(0)) / 1000
    assert finding.savings.co2e_kg_per_year.point == pytest.approx(saved)


def test_never_without_a_stated_deadline_or_an_hourly_file(tmp_path: Path) -> None:
    hourly = make_site(carbon_intensity=400.0, carbon_hourly=hourly_file(tmp_path))
    assert shift_findings(batch(None), hourly, LONDON) == []
    assert shift_findings(batch("late"), hourly, LONDON) == []
    assert shift_findings(batch("23:00"), make_site(carbon_intensity=400.0), LONDON) == []


def test_a_batch_seen_on_two_days_is_not_recurring(tmp_path: Path) -> None:
    site = make_site(carbon_intensity=400.0, carbon_hourly=hourly_file(tmp_path))
    assert shift_findings(batch("23:00", days=2), site, LONDON) == []


def test_hours_the_file_never_covers_are_not_guessed(tmp_path: Path) -> None:
    path = hourly_file(tmp_path, skip_hour=20)
    site = make_site(carbon_intensity=400.0, pue=1.0, carbon_hourly=path)
    assert hour_of_day_g(site.hourly, LONDON)[20] is None  # type: ignore[arg-type]
    (finding,) = shift_findings(batch("23:00"), site, LONDON)
    # 19:xx-20:xx and 20:xx starts touch the missing hour: 21:00 (330 g/kWh) is the best left
    assert finding.recommendation == {"start_local": "21:00"}


def test_analyze_since_finds_the_stored_batch_end_to_end(tmp_path: Path) -> None:
    from profiler.analysis.thresholds import Thresholds
    from profiler.model.job import JobRecord
    from profiler.store.database import Store
    from profiler.workflows.analyze import analyze_since
    from tests.jobs.test_counted_once import _job, _run, _store

    site = make_site(carbon_intensity=400.0, pue=1.0, carbon_hourly=hourly_file(tmp_path))
    t0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # the helpers' T0; London is UTC+0
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("monitor", 0, 600), 600)
        for d in range(3):
            start = d * 86400 + 6 * 3600  # 18:00 each day
            job = JobRecord(
                **{**_job("x").__dict__, "tags": {"deadline": "23:00"}, "dynamic_j": 7.2e6}
            )
            _store(store, _run(f"job{d}", start, start + 3600, kind="job"), 10, job)
        now_s = t0.timestamp() + 3 * 86400
        result = analyze_since(
            store, 4 * 86400, site, Thresholds(), host="h", now_s=now_s, tz="Europe/London"
        )
    (finding,) = [f for f in result.assessment.findings if f.rule == "SHIFT_WINDOW"]
    assert finding.device == "price" and finding.recommendation == {"start_local": "20:00"}


def test_the_zh_cn_report_gives_the_move_and_its_saving_from_the_evidence(tmp_path: Path) -> None:
    """The report's zh-CN sentence carries the finding's own figures, not the generic action."""
    from reports.finding_text import RULES, finding_text
    from reports.i18n import language

    site = make_site(carbon_intensity=400.0, pue=1.0, carbon_hourly=hourly_file(tmp_path))
    (finding,) = shift_findings(batch("23:00"), site, LONDON)
    zh = language("zh-CN")
    text = finding_text(finding.as_dict(), zh)
    assert not text.english and text.text != zh.gettext(RULES["SHIFT_WINDOW"][1])
    for figure in ("20:00", "18:00", "23:00", "320", "450", "94.9 kg"):
        assert figure in text.text, text.text
    assert "启动" in text.text

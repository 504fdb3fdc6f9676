"""`[defaults] tz`, `schedule_margin` and `schedule_transition`: read, defaulted, refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.model.errors import ConfigError
from profiler.settings.config import load_settings
from profiler.workflows.demand import settings_thresholds


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str):  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text(text)
    monkeypatch.setenv("FINWATT_CONFIG", str(config))
    return load_settings(tmp_path / "f.db")


def test_the_zone_is_read_from_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(tmp_path, monkeypatch, '[defaults]\ntz = "America/New_York"\n')
    assert settings.tz == "America/New_York"


def test_the_zone_defaults_to_the_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    settings = _load(tmp_path, monkeypatch, "[defaults]\n")
    assert settings.tz == "Asia/Tokyo"


@pytest.mark.parametrize("zone", ["Europe/Londn", "../etc/passwd", ""])
def test_an_unknown_zone_is_one_line_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, monkeypatch, f'[defaults]\ntz = "{zone}"\n')
    message = str(caught.value)
    assert "\n" not in message
    assert "[defaults]" in message and "tz" in message and "IANA" in message


def test_margin_and_transition_are_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _load(
        tmp_path,
        monkeypatch,
        '[defaults]\nschedule_margin = "30m"\nschedule_transition = "2m"\n',
    )
    assert (settings.schedule_margin_s, settings.schedule_transition_s) == (1800.0, 120.0)
    thresholds = settings_thresholds(settings)
    assert (thresholds.schedule_margin_s, thresholds.schedule_transition_s) == (1800.0, 120.0)


def test_margin_and_transition_default_to_the_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    thresholds = settings_thresholds(_load(tmp_path, monkeypatch, "[defaults]\n"))
    assert (thresholds.schedule_margin_s, thresholds.schedule_transition_s) == (900.0, 300.0)


def test_a_bad_margin_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, monkeypatch, '[defaults]\nschedule_margin = "soon"\n')
    assert "schedule_margin" in str(caught.value)

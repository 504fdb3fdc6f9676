"""The one duration parser: compound forms, weeks, and the same forms in every option."""

import json
from pathlib import Path

import pytest

from profiler.model.durations import parse_duration
from profiler.model.units import parse_iso
from profiler.store.database import Store
from tests.fakes.cli import run_finwatt


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("0.5s", 0.5),
        ("250ms", 0.25),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("2d12h", 216000.0),
        ("1w", 604800.0),
        ("1w2d", 777600.0),
        ("1m30s", 90.0),
        ("1h0m5s", 3605.0),
        (" 2h ", 7200.0),
    ],
)
def test_compound_durations_and_weeks_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("30m1h", "largest first"),  # units out of order
        ("1h1h", "largest first"),  # a unit twice
        ("1h 30m", "not a duration"),
        ("1x", "not a duration"),
        ("", "not a duration"),
        ("-1s", "not a duration"),
        ("0s", "not a positive duration"),
        ("0", "not a positive duration"),
    ],
)
def test_malformed_durations_are_refused_with_the_forms_shown(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as info:
        parse_duration(text)
    assert "1h30m" in str(info.value)


def test_zero_is_allowed_only_when_asked() -> None:
    assert parse_duration("0m", allow_zero=True) == 0.0
    assert parse_duration("0", allow_zero=True) == 0.0


def test_since_takes_compound_durations_like_every_other_option(tmp_path: Path) -> None:
    Store(tmp_path / "f.db").close()  # read commands refuse a database that is not there
    result = run_finwatt("trend", "--since", "1w2d", "--db", f"{tmp_path}/f.db", "--json")
    assert result.returncode == 0, result.stderr
    window = json.loads(result.stdout)["window"]
    span = parse_iso(window["end"]) - parse_iso(window["start"])
    assert span.total_seconds() == pytest.approx(9 * 86400, abs=1)
    bad = run_finwatt("trend", "--since", "30m1h", "--db", f"{tmp_path}/f.db")
    assert bad.returncode == 2 and "--since" in bad.stderr and bad.stderr.count("\n") == 1

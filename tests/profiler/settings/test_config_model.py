"""The config file's pydantic models: every problem named, NaN refused, zones, the schema."""

import tomllib
from pathlib import Path

import pytest

from profiler.model.errors import ConfigError
from profiler.settings.config import config_problems, load_settings, use_config_file
from profiler.settings.config_model import ConfigFile, config_schema

EOD = """\
[defaults]
grace_period = "1h30m"

[[schedule]]
name = "eod"
cron = "30 18 * * 1-5"
tz = "Europe/London"
action = "run"
workloads = ["risk"]
report = "reports/{name}-{date}.html"
"""

BROKEN = """\
cpu_tdp_w = nan
[defaults]
cpu_idle_ratio = inf
grace_period = "30m1h"
[[schedule]]
name = "eod"
cron = "30 18 * * 1-5"
tz = "Europe/Londn"
action = "run"
[[schedule]]
name = "usage"
every = "1h"
tz = "Europe/London"
action = "monitor"
duration = "1h"
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FINWATT_CONFIG", "FINWATT_DB", "FINWATT_CPU_TDP_W", "FINWATT_CPU_IDLE_RATIO"):
        monkeypatch.delenv(name, raising=False)
    yield
    use_config_file(None)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c.toml"
    path.write_text(text)
    problems, valid = config_problems(path, tomllib.loads(text))
    assert (valid is None) == bool(problems)
    return problems


def test_a_local_time_end_of_day_entry_validates_with_its_zone(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(EOD)
    use_config_file(config)
    settings = load_settings(tmp_path / "f.db")
    (entry,) = settings.schedules
    assert entry.tz == "Europe/London" and not entry.tz_from_host
    assert entry.trigger == "cron 30 18 * * 1-5 Europe/London"
    assert settings.grace_period_s == 5400.0


def test_a_cron_without_tz_takes_the_host_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    config = tmp_path / "c.toml"
    config.write_text(EOD.replace('tz = "Europe/London"\n', ""))
    use_config_file(config)
    (entry,) = load_settings(tmp_path / "f.db").schedules
    assert entry.tz == "America/New_York" and entry.tz_from_host


def test_every_problem_is_one_line_naming_file_table_and_key(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, BROKEN)
    path = str(tmp_path / "c.toml")
    assert all(line.startswith(path) and "\n" not in line for line in problems)
    expected = [
        ("cpu_tdp_w", "finite"),
        ("[defaults] cpu_idle_ratio", "finite"),
        ("[defaults] grace_period", "largest first"),
        ("[[schedule]] #1 ('eod') tz", "not a known time zone"),
    ]
    for named, says in expected:
        assert any(named in line and says in line for line in problems), (named, problems)
    # the model check of a valid-typed entry runs too: tz belongs to cron entries
    assert any("#2 ('usage')" in line and "tz applies to cron" in line for line in problems)
    assert len(problems) == 5


def test_load_settings_raises_the_first_problem_and_counts_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(BROKEN)
    use_config_file(config)
    with pytest.raises(ConfigError, match=r"cpu_tdp_w.*and 4 more: run `finwatt config check`"):
        load_settings(tmp_path / "f.db")


@pytest.mark.parametrize(
    ("snippet", "named"),
    [
        ("[defaults]\npue = nan\n", "[defaults] pue"),
        ("[defaults]\nprice_per_kwh = inf\n", "[defaults] price_per_kwh"),
        ("[defaults]\ncarbon_intensity = -inf\n", "[defaults] carbon_intensity"),
        (
            '[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nlevels = [nan]\n',
            "levels",
        ),
        ('[[schedule]]\nname = "a"\nevery = inf\naction = "run"\n', "every"),
        ('[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nanalyze = 1\n', "analyze"),
        ('[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nsize = 5\n', "size"),
        ("defaults = 3\n", "defaults must be a table"),
        ("schedule = 3\n", "schedule must be an array of tables"),
    ],
)
def test_nan_inf_and_wrong_types_are_refused(tmp_path: Path, snippet: str, named: str) -> None:
    problems = problems_of(tmp_path, snippet)
    assert problems and named in problems[0], problems


def test_compound_and_week_durations_are_accepted_in_the_file(tmp_path: Path) -> None:
    text = (
        '[[schedule]]\nname = "weekly"\nevery = "1w"\naction = "monitor"\nduration = "2d12h"\n'
        'grace_period = "1h30m"\n'
    )
    config = tmp_path / "c.toml"
    config.write_text(text)
    use_config_file(config)
    (entry,) = load_settings(tmp_path / "f.db").schedules
    assert (entry.every_s, entry.duration_s, entry.grace_period_s) == (604800, 216000, 5400)
    assert entry.trigger == "every 1w"


def test_the_schema_describes_every_key_the_models_accept() -> None:
    schema = config_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(ConfigFile.model_fields)
    table = schema["$defs"]["ScheduleTable"]
    assert table["additionalProperties"] is False
    assert set(table["required"]) == {"name", "action"}
    assert "tz" in table["properties"] and "IANA" in table["properties"]["tz"]["description"]
    defaults = schema["$defs"]["DefaultsTable"]["properties"]
    assert {"country", "region", "grace_period", "cpu_tdp_w"} <= set(defaults)


def test_a_json_schema_validator_accepts_good_files_and_refuses_bad_ones() -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(config_schema())
    Draft202012Validator.check_schema(config_schema())
    good = tomllib.loads(EOD)
    assert list(validator.iter_errors(good)) == []
    monitor = {"schedule": [{"name": "u", "every": 900, "action": "monitor", "duration": "1h"}]}
    assert list(validator.iter_errors(monitor)) == []
    for bad in (
        {"colour": 1},
        {"defaults": {"pue": "high"}},
        {"schedule": [{"name": "eod", "action": "sleep", "cron": "0 2 * * *"}]},
        {"schedule": [{"name": "bad name!", "action": "run", "cron": "0 2 * * *"}]},
        {"schedule": [{"name": "a", "action": "run", "every": "30m1x"}]},
        {"schedule": [{"name": "a", "action": "run", "every": 0}]},
    ):
        assert list(validator.iter_errors(bad)), bad

"""`finwatt config check` lists every problem of a file in one run, not one round at a time.

Field errors, the model checks of `[defaults]` and of the whole file (`vm_share` without
`host_curve`, a setting both at the top level and in `[defaults]`), duplicate
`[[schedule]]` names and the site's checks all come out of the same check.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from profiler.settings.config import config_problems, use_config_file
from tests.fakes.cli import run_finwatt

SEVEN = """\
db = "a.db"

[defaults]
db = "b.db"
pue = 0.5
vm_share = 0.5
colour = "red"
cpu_tdp_w = -3

[[schedule]]
name = "usage"
every = "1d"
action = "monitor"
duration = "1h"

[[schedule]]
name = "usage"
every = "1d"
action = "monitor"
duration = "1h"
"""

EXPECTED = [
    "[defaults] cpu_tdp_w: input should be greater than 0",
    "[defaults] unknown key 'colour'",
    "vm_share is set without host_curve",
    "db is set both at the top level and in [defaults]",
    "[[schedule]] #2 ('usage') name 'usage' is used by an earlier entry",
    "[defaults] pue must be >= 1.0",
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINWATT_CONFIG", raising=False)
    yield
    use_config_file(None)


def test_every_problem_comes_out_of_one_check(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(SEVEN)
    problems, valid = config_problems(path, tomllib.loads(SEVEN))
    assert valid is None
    for says in EXPECTED:
        assert sum(says in line for line in problems) == 1, (says, problems)
    assert len(problems) == len(EXPECTED)
    assert all(line.startswith(str(path)) for line in problems)


def test_config_check_prints_them_all_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(SEVEN)
    result = run_finwatt("config", "check", str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == len(EXPECTED)
    for says in EXPECTED:
        assert any(says in line for line in lines), (says, lines)


def test_a_field_error_in_one_schedule_leaves_the_others_checked(tmp_path: Path) -> None:
    text = SEVEN.replace('duration = "1h"\n', 'duration = "1h"\nsize = 5\n', 1)
    path = tmp_path / "c.toml"
    path.write_text(text)
    problems, _ = config_problems(path, tomllib.loads(text))
    assert any("#1 ('usage') size" in line for line in problems), problems
    assert any("[defaults] pue must be >= 1.0" in line for line in problems), problems

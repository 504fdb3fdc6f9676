"""The smaller cases of docs/decisions.md#hostile-input (item 8), through the real CLI.

- `run --levels ""` silently used the default ladder: now bad usage (exit 2);
- `schedule remove` deleted an unrelated comment: only the entry's own lines go;
- `live` without a terminal ran for ever printing nothing: exit 2 pointing to `--once`;
- the `--json` documents carried no schema version: each leads with
  `"schema": "finwatt.<doc>/1"`.
"""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from tests.fakes.cli import REPO_ROOT, run_finwatt
from tests.fakes.history import history_doc
from tests.profiler.analysis.examples import idle_host_util
from tests.robustness.contract import Home, assert_one_line_error, row_counts


@pytest.mark.parametrize(
    "command",
    [
        ("run", "ledger", "--quick", "--levels", ""),
        ("run", "ledger", "--quick", "--levels", " , "),
        ("schedule", "add", "x", "--action", "run", "--every", "1h", "--levels", ""),
    ],
)
def test_empty_levels_are_refused(home: Home, command: tuple[str, ...]) -> None:
    home.config.parent.mkdir(parents=True)
    home.config.write_text("")
    result = run_finwatt("--config", str(home.config), *command, env=home.env)
    assert_one_line_error(result, 2, "--levels")
    assert row_counts(home.db).get("run", 0) == 0
    assert home.config.read_text() == ""


HEADER = "# finwatt's schedule: one section comment, then the entries\n"

MONITORS = """\
# ----- monitors -----

# usage: all day
[[schedule]]
name = "usage"
every = "24h"
action = "monitor"
duration = "24h"

[defaults]
pue = 1.3  # the site's
"""

CONFIG = f"""\
{HEADER}
# nightly: the benchmark ladder
[[schedule]]
name = "nightly"
cron = "0 2 * * *"
action = "run"
workloads = ["ledger"]
# keep the ladder short on weekdays

{MONITORS}"""

AFTER_REMOVING_NIGHTLY = f"{HEADER}\n{MONITORS}"


def test_schedule_remove_keeps_unrelated_comments(home: Home) -> None:
    """The entry's own comments go (above its header, below its last key); others stay."""
    home.config.parent.mkdir(parents=True)
    home.config.write_text(CONFIG)
    result = run_finwatt(
        "schedule", "remove", "nightly", "--config", str(home.config), env=home.env
    )
    assert result.returncode == 0, result.stderr
    assert home.config.read_text() == AFTER_REMOVING_NIGHTLY
    result = run_finwatt("schedule", "remove", "usage", "--config", str(home.config), env=home.env)
    assert result.returncode == 0, result.stderr
    text = home.config.read_text()
    assert "# ----- monitors -----" in text and "# usage: all day" not in text
    assert "pue = 1.3  # the site's" in text and "[[schedule]]" not in text


def test_live_without_a_terminal_is_exit_2_with_a_hint(home: Home) -> None:
    result = run_finwatt("live", env=home.env, stdin="", timeout=30)  # stdout is a pipe
    assert_one_line_error(result, 2, "not a terminal", "finwatt live --once")
    assert not home.db.exists()


def import_idle_run(home: Home) -> None:
    t, util = idle_host_util()
    doc = history_doc(
        [{"id": "host", "kind": "host", "logical_cores": 16}, "cpu:0"],
        t,
        {"host": {"util": util}, "cpu:0": {"power_w": np.full(t.size, 120.0), "energy_j": 120 * t}},
        run_id="idle",
    )
    path = home.root / "idle.json"
    path.write_text(json.dumps(doc))
    result = run_finwatt("import", str(path), "--json", env=home.env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "finwatt.import/1"


JSON_COMMANDS = [
    (("doctor",), "doctor"),
    (("runs",), "runs"),
    (("analyze", "idle"), "analyze"),
    (("trend", "--since", "3650d"), "trend"),
    (("db", "stats"), "db-stats"),
    (("db", "prune"), "db-prune"),
    (("schedule", "list"), "schedule-list"),
    (("monitor", "--duration", "0.3s", "--interval", "0.1s"), "monitor"),
]


def test_json_documents_name_their_schema(home: Home) -> None:
    import_idle_run(home)
    for command, doc in JSON_COMMANDS:
        result = run_finwatt(*command, "--json", env=home.env)
        assert result.returncode == 0, (command, result.stderr)
        document = json.loads(result.stdout)
        assert next(iter(document)) == "schema", command  # first: a reader sees it at once
        assert document["schema"] == f"finwatt.{doc}/1"


def _emit_json_calls() -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted((REPO_ROOT / "profiler" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "emit_json":
                found.append((path.name, node.lineno, node))
    return found


def test_every_json_output_of_the_cli_names_its_document() -> None:
    """Every `emit_json` call passes `doc=` (`config schema` prints a JSON Schema itself)."""
    calls = _emit_json_calls()
    assert len(calls) >= 12
    missing = [
        f"{name}:{line}"
        for name, line, call in calls
        if not any(k.arg == "doc" for k in call.keywords) and name != "config.py"
    ]
    assert not missing, f"--json documents without a schema name: {missing}"
    names = [
        k.value.value
        for _, _, call in calls
        for k in call.keywords
        if k.arg == "doc" and isinstance(k.value, ast.Constant)
    ]
    assert len(names) == len(set(names)), f"a document name is used twice: {sorted(names)}"
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = [n for n in names if f"`{n}`" not in readme]
    assert not undocumented, f"README's JSON section does not list: {undocumented}"


def test_config_schema_stays_a_plain_json_schema(home: Home) -> None:
    schema = run_finwatt("config", "schema", env=home.env)
    assert schema.returncode == 0, schema.stderr
    document = json.loads(schema.stdout)
    assert "$schema" in document and "schema" not in document

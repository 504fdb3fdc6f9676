"""Outside text cannot drive the terminal (docs/decisions.md#hostile-input).

An imported run's label (and host, device model), a Prometheus instance label and an
argument quoted in an error reached the terminal raw: `finwatt runs` retitled the
window, cleared the screen and printed "ALL RUNS OK". Every human-readable output now
shows control characters as visible escapes (`profiler.model.text.printable`): tables
(runs, findings, the fleet's), error lines, log lines, the live view's frames.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from profiler.cli.logs import JsonFormatter, TextFormatter, TimedTextFormatter
from profiler.cli.terminal_text import safe_console
from profiler.live.escaped import EscapedFrame
from profiler.model.text import has_control, printable
from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc
from tests.profiler.analysis.examples import idle_host_util
from tests.robustness.contract import Home, assert_one_line_error

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[HALL RUNS OK\x9b31m\u202e"
"""Retitle the window (OSC ... BEL), clear the screen, home the cursor, print a lie; an
8-bit CSI and a right-to-left override for good measure."""

RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def assert_inert(*texts: str) -> None:
    """Assert that no raw control character of HOSTILE is in `texts`."""
    for text in texts:
        for raw in RAW:
            assert raw not in text, f"raw {raw!r} in output:\n{text!r}"


def import_hostile_run(home: Home) -> None:
    t, util = idle_host_util()
    doc = history_doc(
        [
            {"id": "host", "kind": "host", "logical_cores": 16, "model": f"M{HOSTILE}"},
            {"id": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"},
        ],
        t,
        {"host": {"util": util}, "cpu:0": {"power_w": np.full(t.size, 120.0), "energy_j": 120 * t}},
        run_id="idle",
        label=f"L{HOSTILE}",
        host=f"H{HOSTILE}",
    )
    path = home.root / "hostile.json"
    path.write_text(json.dumps(doc))
    result = run_finwatt("import", str(path), env=home.env)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout, result.stderr)


def test_printable_escapes_c0_c1_del_and_bidi_and_keeps_the_rest() -> None:
    assert printable("plain label, café, 日本") == "plain label, café, 日本"
    assert printable("a\x1b[2Jb\x07\x7f\x9b\u202e") == "a\\x1b[2Jb\\x07\\x7f\\x9b\\u202e"
    assert printable("two\nlines") == "two\\x0alines"
    assert printable("two\nlines", keep_newlines=True) == "two\nlines"
    assert not has_control(printable(HOSTILE)) and has_control(HOSTILE)


def test_runs_table_shows_an_imported_label_escaped(home: Home) -> None:
    import_hostile_run(home)
    result = run_finwatt("runs", env=home.env)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout, result.stderr)
    assert "L\\x1b]0;pwned\\x07" in result.stdout  # shown, visibly


def test_analyze_and_its_errors_show_outside_text_escaped(home: Home) -> None:
    import_hostile_run(home)
    result = run_finwatt("analyze", "idle", env=home.env)
    assert result.returncode == 0, result.stderr
    assert "IDLE_HOST" in result.stdout
    assert_inert(result.stdout, result.stderr)
    missing = run_finwatt("analyze", f"nope{HOSTILE}", env=home.env)
    line = assert_one_line_error(missing, 2, "nope")
    assert_inert(missing.stdout, missing.stderr)
    assert "\\x1b" in line


def test_a_prometheus_instance_label_is_escaped_in_the_fleet_table(tmp_path: Path) -> None:
    from tests.profiler.prometheus.prometheus_harness import Prometheus, require_prometheus
    from tests.profiler.prometheus.test_fleet import STEP_S, openmetrics

    _, promtool = require_prometheus()
    end_s = int(time.time()) // STEP_S * STEP_S - 3 * 3600
    keep = ('instance="idle-01:9464"', 'instance="idle-02:9464"')
    lines = [
        line
        for line in openmetrics(end_s, days=4).splitlines()
        if line.startswith("#") or any(k in line for k in keep)
    ]
    hostile = f"idle-01{HOSTILE}:9464".replace("\\", "\\\\").replace('"', '\\"')
    text = "\n".join(lines).replace(keep[0], f'instance="{hostile}"') + "\n"
    (tmp_path / "fleet.om").write_text(text)
    created = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", "fleet.om", "data"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    with Prometheus(tmp_path / "prom", data=tmp_path / "data") as prometheus:
        result = run_finwatt(
            "analyze", "--prometheus", prometheus.url, env={"COLUMNS": "250"}, timeout=120
        )
    assert result.returncode == 0, result.stderr
    assert "idle-01\\x1b]0;pwned\\x07" in result.stdout  # the hostile host's finding
    assert_inert(result.stdout, result.stderr)


def test_rich_output_shows_markup_and_control_characters_literally() -> None:
    buffer = io.StringIO()
    console = safe_console(file=buffer, width=120, color_system=None)
    table = Table(title=f"runs [/bold] {HOSTILE}")
    table.add_column("label")
    table.add_row(f"[red]x[/] :fire: {HOSTILE}")  # a row a command forgot to escape
    console.print(table)
    console.print(f"line [/] {HOSTILE}")
    shown = buffer.getvalue()
    assert_inert(shown)
    assert "[red]x[/] :fire:" in shown and "[/bold]" in shown and "\\x1b]0;pwned" in shown


def test_live_frames_are_escaped() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None)
    console.print(EscapedFrame(Text(f"host {HOSTILE}\nsecond line")))
    shown = buffer.getvalue()
    assert_inert(shown)
    assert "second line" in shown and shown.count("\n") == 2  # layout newlines kept


@pytest.mark.parametrize("formatter", [TextFormatter(), TimedTextFormatter(), JsonFormatter()])
def test_log_lines_are_one_line_and_inert(formatter: logging.Formatter) -> None:
    record = logging.makeLogRecord(
        {"msg": "entry %s fired", "args": (f"x{HOSTILE}\nfake line",), "levelno": 30}
    )
    record.levelname = "WARNING"
    line = formatter.format(record)
    assert_inert(line)
    assert "\n" not in line
    if isinstance(formatter, JsonFormatter):
        assert json.loads(line)["message"] == f"entry x{HOSTILE}\nfake line fired"


def test_error_lines_of_the_real_cli_are_inert(home: Home) -> None:
    result = run_finwatt("monitor", "--duration", f"5{HOSTILE}", env=home.env)
    assert_one_line_error(result, 2, "--duration")
    assert_inert(result.stdout, result.stderr)

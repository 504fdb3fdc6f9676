"""Random option values to every command exit 0, 1, 2 or 130, never a traceback.

The commands and their options are read from the typer app itself, so a new command or
option is fuzzed without editing this file. Values mix text with control characters,
huge, negative and non-finite numbers, odd durations and odd paths (all relative to a
temporary folder: nothing outside it is written). Calls run in-process
(`profiler.cli.main`, a child process per example is too slow): a traceback is any
exception other than `SystemExit` escaping `main`, or "Traceback" in what it printed.

Commands that would run for long are fuzzed on their option parsing and validation
only: the call that starts the long part is replaced by an exit 0 (`LONG_RUNNING`):
`run` (the ladder), `monitor` and `live` (the recording, the view), `serve` and
`schedule daemon --serve` (the server), `schedule daemon`/`run-due` (the scheduler loop)
and `exec` (the child command). Everything before those calls (settings, the database,
sensors, ports) runs for real.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiler.cli import app, main
from tests.robustness.contract import BASE_DOCUMENT

EXITS = {0, 1, 2, 130}
"""docs/design.md#exit-codes: success, runtime failure, bad input, interrupted."""

SKIPPED_OPTIONS = {"--install-completion", "--show-completion"}
"""Root options that edit the user's shell start-up files: never run by a test."""


def _stop(*_args: object, **kwargs: object) -> Any:
    """Stand in for the start of a long-running part: close its sensors and exit 0."""
    sensors = kwargs.get("sensors")
    if sensors is not None:
        sensors.close()  # type: ignore[attr-defined]
    raise typer.Exit(0)


def _no_results(*_args: object, **_kwargs: object) -> list[object]:
    return []


LONG_RUNNING: tuple[tuple[str, str, Any], ...] = (
    ("profiler.cli.run", "_profile", _stop),
    ("profiler.workflows.monitor", "monitor_recording", _stop),
    ("profiler.live", "show_once", _stop),
    ("profiler.live", "run_live", _stop),
    ("profiler.workflows.serve", "serving", _stop),
    ("profiler.workflows.scheduler", "run_scheduler", _no_results),
    ("profiler.workflows.job", "run_job", _stop),
    ("profiler.workflows.report", "print_pdf", _stop),
)
"""(module, attribute, stand-in): where each long-running command is cut after parsing."""


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    """Return (command path, click command) for every leaf command of the app."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in sorted(command.commands.items()):
                walk(sub, (*path, name))
        else:
            found.append((path, command))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()
ROOT_OPTIONS = [
    p
    for p in typer.main.get_command(app).params
    if not (set(p.opts) & SKIPPED_OPTIONS) and p.opts != ["--version"]
]

_NASTY = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
"""Any character a command line can carry (not NUL, not lone surrogates)."""

NUMBERS = (
    st.sampled_from(
        ["-1", "0", "-0", "1e309", "-1e309", "nan", "inf", "-inf", "1e-320", "9" * 30, "9" * 5000]
    )
    | st.integers().map(str)
    | st.floats().map(repr)
)
DURATIONS = st.sampled_from(
    ["0s", "1ms", "0.0001s", "200000d", "99999999999d", "36500d", "1w2d", "1h1h", "-5m", "1e9"]
)
PATHS = st.sampled_from(
    [
        "",
        ".",
        "..",
        "out/",
        "no/such/dir/f",
        "f.db",
        "f.db.lock",
        "x.html",
        "-",
        "\x1b[2J",
        "a b",
        "é.toml",
        "/proc/no-such/x",
        "sub",
        "junk.bin",
        "base.json",
        "base",
    ]
)
URLS = st.sampled_from(
    ["http://127.0.0.1:1", "ftp://x", "http://", "http://[::1", "127.0.0.1:9090", ""]
)
VALUES = st.one_of(st.text(_NASTY, max_size=24), NUMBERS, DURATIONS, PATHS)


DURATION_OPTIONS = {
    "--duration", "--since", "--interval", "--every", "--phase-seconds", "--step",
    "--grace-period", "--keep-raw", "--keep-rollups", "--min-span",
}  # fmt: skip


def _value(option: Any) -> st.SearchStrategy[str]:
    """Values for one option: mostly of its kind, often its valid default (to get deeper)."""
    if "--prometheus" in option.opts:
        return URLS  # no name lookups of random hosts: they wait for DNS
    kind = option.bare_type()
    if kind is Path:
        odd = PATHS | VALUES
    elif set(option.opts) & DURATION_OPTIONS:
        odd = DURATIONS | VALUES
    elif kind in (int, float):
        odd = NUMBERS | VALUES
    else:
        odd = VALUES
    default = option.default
    if default is None or isinstance(default, bool | list | tuple):
        return odd
    return st.just(str(default)) | odd


@st.composite
def command_lines(draw: st.DrawFn, path: tuple[str, ...], command: Any) -> list[str]:
    """Draw a command line: some root options, the command, some of its parameters."""
    argv: list[str] = []
    for option in ROOT_OPTIONS:
        if draw(st.integers(0, 5)) == 0:
            argv += [option.opts[0], draw(_value(option))]
    argv += list(path)
    for param in command.params:
        if param.param_type_name == "argument":
            count = 1 if param.nargs == 1 else draw(st.integers(0 if not param.required else 1, 2))
            if param.required or draw(st.booleans()):
                argv += ["--"] if path == ("exec",) else []
                argv += [draw(VALUES) for _ in range(count)]
            continue
        if not draw(st.booleans()):
            continue
        if param.is_flag:
            argv.append(param.opts[0])
        else:
            argv.append(param.opts[0])
            argv += [draw(_value(param)) for _ in range(max(param.nargs, 1))]
    return argv


@contextlib.contextmanager
def _sandbox(root: Path) -> Iterator[None]:
    """Run in `root` with a private finwatt home; long-running parts cut (`LONG_RUNNING`)."""
    env = {
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_DATA_HOME": str(root / "data"),
        "FINWATT_DB": str(root / "f.db"),
        "FINWATT_CONFIG": "",
        "FINWATT_CPU_TDP_W": "",
        "FINWATT_CPU_IDLE_RATIO": "",
        "FINWATT_PROMETHEUS_CONFIG": "",
    }
    (root / "sub").mkdir(exist_ok=True)  # a directory where a file is expected
    (root / "junk.bin").write_bytes(bytes(range(256)) * 4)  # a file that is not text
    seed = root / "base.json"  # one stored run ("base"), so RUN_ID options get past lookup
    if not seed.exists():
        seed.write_text(json.dumps(BASE_DOCUMENT))
        seeded = True
    else:
        seeded = False
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, env))
        for module, name, stand_in in LONG_RUNNING:
            try:
                target = importlib.import_module(module)
            except ImportError:
                continue
            if hasattr(target, name):
                stack.enter_context(mock.patch.object(target, name, stand_in))
        here = Path.cwd()
        os.chdir(root)
        stack.callback(os.chdir, here)
        if seeded:
            assert run_in_process(["import", str(seed)])[0] == 0
        yield


def brief(argv: list[str]) -> str:
    """Return `argv` for a failure message, each value cut to 60 characters."""
    return repr([a if len(a) <= 60 else f"{a[:60]}...({len(a)} chars)" for a in argv])


def run_in_process(argv: list[str]) -> tuple[int, str]:
    """Run `finwatt argv` in this process; return (exit status, stdout + stderr).

    Raises:
        AssertionError: an exception other than SystemExit escaped `main` (a traceback).
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main(argv)
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except BaseException as err:
            raise AssertionError(f"finwatt {brief(argv)} raised {brief([repr(err)])}") from err
        else:
            code = 0
    return code, stdout.getvalue() + stderr.getvalue()


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
@settings(
    # 4 per command keeps CI near 30 s; FINWATT_FUZZ_EXAMPLES=200 hunts harder
    max_examples=int(os.environ.get("FINWATT_FUZZ_EXAMPLES", "4")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_option_values_never_give_a_traceback(
    tmp_path: Path, path: tuple[str, ...], command: Any, data: st.DataObject
) -> None:
    argv = data.draw(command_lines(path, command), label="argv")
    with _sandbox(tmp_path):
        code, printed = run_in_process(argv)
    assert code in EXITS, f"finwatt {brief(argv)} exited {code}:\n{printed[-2000:]}"
    assert "Traceback" not in printed, f"finwatt {brief(argv)}:\n{printed[-4000:]}"


def test_every_command_is_fuzzed() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"run", "monitor", "analyze", "import", "schedule add", "db prune"} <= names

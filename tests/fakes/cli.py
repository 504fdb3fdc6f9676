"""The `finwatt` command as a user runs it: in this process for the bulk, a child for the rest.

`run_finwatt` calls `profiler.cli.main(argv)` in this interpreter with its own stdin,
stdout, stderr, environment, working directory and `sys.argv`, and returns what a child
would have: the exit status and the text it printed (universal newlines, as `text=True`
gives). Between calls it restores what `main` sets process-wide (the log handler and
level, the `--config` choice, the environment, the working directory), so calls do not
leak into each other. It costs milliseconds where a child costs about 1.4 s.

`run_finwatt_process` and `start_finwatt` start the real program (`python -m profiler`)
as a child; a test uses them only where the process boundary is what it checks
(signals, a closed pipe, locks between processes, what start-up imports, the
environment a fresh interpreter sees) and says so.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, TypedDict, Unpack

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: `docs/`, `profiler/`, `tests/`."""

FINWATT = (sys.executable, "-m", "profiler")
"""The command line that starts finwatt with this interpreter, before its arguments."""

_MAIN_PATH = str(REPO_ROOT / "profiler" / "__main__.py")
"""What `sys.argv[0]` reads in a `python -m profiler` child."""

_MAIN = ModuleType("__main__")
"""The `__main__` of a `python -m profiler` child as click sees it (its package only: no
file or spec, so a `spawn`ed workload worker re-imports nothing of it)."""
_MAIN.__package__ = "profiler"


def ledger_ladder(levels: str, phase_seconds: float, db: Path, *options: str) -> tuple[str, ...]:
    """Return the arguments of `finwatt run ledger` at `levels`, size small, into `db`.

    Args:
        levels: the target loads, e.g. "1,0.5,0".
        phase_seconds: each level's length.
        db: the database.
        *options: further options (`--json`, `--interval 0.1s`, `--report PATH` ...).
    """
    return (
        *("run", "ledger", "--levels", levels, "--phase-seconds", f"{phase_seconds:g}"),
        *("--size", "small", "--db", str(db), *options),
    )


def run_finwatt(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `finwatt *args` to its end in this process and capture what it prints.

    Args:
        *args: the command line after `finwatt`.
        env: variables set on top of this process's environment for the call.
        stdin: text on its standard input; None gives an empty one.
        cwd: its working directory for the call; None keeps this process's.
        timeout: seconds before `subprocess.TimeoutExpired` fails the test.

    Returns:
        What a child would have returned; its exit status is for the caller to assert.
    """
    from profiler.cli import main  # imported late: a test module's import stays light

    argv = list(args)
    out, err = _stream(b""), _stream(b"")
    code = 0
    with _process_state(argv, env, cwd, stdin, out, err), _deadline(argv, timeout):
        try:
            main(argv)
        except SystemExit as stop:
            code = _exit_status(stop, err)
        except subprocess.TimeoutExpired:  # the deadline's own: it fails the test
            raise
        except Exception:  # noqa: BLE001 (what a child does with any uncaught one: traceback, 1)
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
    return subprocess.CompletedProcess(
        [*FINWATT, *argv], code, stdout=_text(out), stderr=_text(err)
    )


def _stream(data: bytes) -> io.TextIOWrapper:
    """Return a text stream over bytes, with a `.buffer` as the real streams have."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    """Return what was written to `stream`, decoded with universal newlines."""
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def _exit_status(stop: SystemExit, err: io.TextIOWrapper) -> int:
    """Return the status `sys.exit(code)` gives a process (a text code goes to stderr)."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=err)
    return 1


@contextlib.contextmanager
def _process_state(
    argv: list[str],
    env: dict[str, str] | None,
    cwd: Path | None,
    stdin: str | None,
    out: io.TextIOWrapper,
    err: io.TextIOWrapper,
) -> Iterator[None]:
    """Give the call its streams, environment, directory and argv; restore them after."""
    from profiler.settings import config  # the `--config` choice is process-wide

    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_argv, saved_override = sys.argv, config._config_override
    saved_main = sys.modules["__main__"]
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    os.environ.update(env or {})
    time.tzset()
    if cwd is not None:
        os.chdir(cwd)
    sys.stdin, sys.stdout, sys.stderr = _stream((stdin or "").encode()), out, err
    sys.argv = [_MAIN_PATH, *argv]
    sys.modules["__main__"] = _MAIN  # click names the program after it: python -m profiler
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv, config._config_override = saved_argv, saved_override
        sys.modules["__main__"] = saved_main
        for handler in list(root.handlers):
            if handler not in saved_handlers:
                root.removeHandler(handler)
        root.setLevel(saved_level)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        time.tzset()


@contextlib.contextmanager
def _deadline(argv: list[str], timeout: float) -> Iterator[None]:
    """Raise `subprocess.TimeoutExpired` in the call if it runs past `timeout` seconds."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise subprocess.TimeoutExpired([*FINWATT, *argv], timeout)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class RunOptions(TypedDict, total=False):
    """`run_finwatt`'s keyword options, which `run_finwatt_process` takes too."""

    env: dict[str, str] | None
    stdin: str | None
    cwd: Path | None
    timeout: float


def run_finwatt_process(
    *args: str, **options: Unpack[RunOptions]
) -> subprocess.CompletedProcess[str]:
    """Run the real `finwatt *args` in a child process to its end and capture its output.

    For tests about the process boundary only; everything else uses `run_finwatt`, whose
    options these are (except `stdin=None`, which here leaves standard input inherited).
    """
    return subprocess.run(
        [*FINWATT, *args],
        capture_output=True,
        text=True,
        input=options.get("stdin"),
        timeout=options.get("timeout", 60),
        env={**os.environ, **(options.get("env") or {})},
        cwd=options.get("cwd"),
        check=False,
    )


def start_finwatt(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `finwatt *args` in the background with its output piped, for signals and polls.

    Args:
        *args: the command line after `finwatt`.
        env: variables set on top of this process's environment.

    Returns:
        The running process; the caller stops it (`communicate`, `send_signal`, `kill`).
    """
    return subprocess.Popen(
        [*FINWATT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def exec_document(stderr: str) -> dict[str, Any]:
    """Return the JSON document `finwatt exec --json` printed on stderr (after any log lines).

    Args:
        stderr: the command's standard error; the document is the last thing on it.

    Returns:
        The `finwatt.exec/1` document.
    """
    document: dict[str, Any] = json.loads(stderr[stderr.rindex('{\n  "schema": "finwatt.exec/') :])
    return document

"""The `finwatt` command line: parse, call a workflow, print.

`common` holds the typer app, the shared options and helpers; each command module
registers its commands on that app when imported, so the arrows run one way:
command modules -> common. `main` imports a command's module only when that command
runs (`profiler.cli.lazy`, the table in `profiler.cli.commands`), and answers
`finwatt --version` and `finwatt -h` before typer is imported (docs/benchmarks.md#start-up).
`profiler.cli.app` is the app with every command registered (tests, completion).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from profiler.cli.stdio import guard_std_fds, stdout_failure

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from profiler.cli.lazy import load_all

        load_all()
        return _app()
    raise AttributeError(f"module 'profiler.cli' has no attribute {name!r}")


def _app() -> typer.Typer:
    from profiler.cli.common import app

    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `finwatt` console script: one-line errors, design exit codes.

    Every finwatt error is mapped here, once: its message on one stderr line and its
    `exit_code`. Workloads import nothing of profiler, so their errors are mapped by
    their builtin base: bad input (`ValueError`) 2, a worker or back end failing 1.
    A closed or broken stdout is mapped here too (`profiler.cli.stdio`): exit 1, silent
    for a broken pipe, one line for a closed stdout.
    """
    guard_std_fds()  # a closed fd 0/1/2 gets /dev/null, so no file we open lands there
    try:
        _quick_answer(argv)
        code = _run(argv)
        sys.stdout.flush()  # inside the try: a pipe closed early fails here, not at exit
    except OSError as err:
        line = stdout_failure(err)
        if line is None:
            raise
        if line:
            _error_line(line)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _quick_answer(argv: list[str] | None) -> None:
    """Answer `finwatt --version` and `finwatt -h` without importing typer.

    Only for the console script on a terminal of 80 columns or more (or no terminal),
    where typer's own output is exactly `TOP_HELP`; anything else goes through typer.
    """
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from profiler.files.version import finwatt_version

        print(f"finwatt {finwatt_version()}")
        sys.stdout.flush()
        sys.exit(0)
    if args in (["-h"], ["--help"]) and sys.argv[0].rsplit("/", 1)[-1] == "finwatt":
        import shutil

        if shutil.get_terminal_size().columns >= 80:
            from profiler.cli.commands import TOP_HELP

            sys.stdout.write(TOP_HELP)
            sys.stdout.flush()
            sys.exit(0)


def _error_line(message: str) -> None:
    from profiler.cli.common import error_line

    error_line(message)


def _run(argv: list[str] | None) -> Any:
    """Run the typer app on `argv`, mapping errors to one line and an exit code."""
    import sqlite3

    import typer

    from profiler.cli.common import UsageError, app, error_line
    from profiler.cli.logs import configure_logging
    from profiler.model.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, FinwattError
    from profiler.workflows.database import failure_line

    configure_logging("text")  # `--log-format json` switches it (profiler.cli.common)
    try:
        return app(args=argv, standalone_mode=False)
    except UsageError as err:
        error_line(str(err.format_message()))  # type: ignore[attr-defined]
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except FinwattError as err:
        error_line(str(err))
        sys.exit(err.exit_code)
    except (sqlite3.Error, OSError) as err:
        stdout_gone = isinstance(err, OSError) and stdout_failure(err) is not None
        line = None if stdout_gone else failure_line(err)
        if line is None:
            raise  # a closed stdout goes to `main`; anything else is a bug
        error_line(line)  # a full disk or a database failure mid-command
        sys.exit(EXIT_FAILURE)
    except _workload_errors() as err:
        error_line(str(err))
        sys.exit(EXIT_USAGE if isinstance(err, ValueError) else EXIT_FAILURE)


def _workload_errors() -> tuple[type[Exception], ...]:
    """Return the workloads' exception classes, if a command has imported them.

    Evaluated only when an exception is on its way out; reading them from `sys.modules`
    keeps numpy (which `workloads` imports) out of commands that never run a workload.
    """
    names = (
        ("workloads.base", "WorkloadError"),
        ("workloads.base", "BackendUnavailable"),
        ("workloads.pool", "WorkerError"),
    )
    return tuple(
        getattr(sys.modules[module], name) for module, name in names if module in sys.modules
    )

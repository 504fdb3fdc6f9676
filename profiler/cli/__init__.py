"""The `finwatt` command line: parse, call a workflow, print.

`common` holds the typer app, the shared options and helpers; each command module
registers its commands on that app when imported here, so the arrows run one way:
command modules -> common.
"""

from __future__ import annotations

import sqlite3
import sys

import typer

# Importing the command modules registers their commands, in this order, on `app`.
# isort: off
from profiler.cli import core, run  # noqa: F401
from profiler.cli import analysis, config, data, demand, jobs, live, schedule  # noqa: F401

# isort: on
from profiler.cli.common import UsageError, app, error_line
from profiler.cli.logs import configure_logging
from profiler.model.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, FinwattError
from profiler.workflows.database import failure_line

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `finwatt` console script: one-line errors, design exit codes.

    Every finwatt error is mapped here, once: its message on one stderr line and its
    `exit_code`. Workloads import nothing of profiler, so their errors are mapped by
    their builtin base: bad input (`ValueError`) 2, a worker or back end failing 1.
    """
    configure_logging("text")  # `--log-format json` switches it (profiler.cli.common)
    try:
        code = app(args=argv, standalone_mode=False)
    except UsageError as err:
        error_line(str(err.format_message()))  # type: ignore[attr-defined]
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except FinwattError as err:
        error_line(str(err))
        sys.exit(err.exit_code)
    except (sqlite3.Error, OSError) as err:
        line = failure_line(err)  # a full disk or a database failure mid-command
        if line is None:
            raise
        error_line(line)
        sys.exit(EXIT_FAILURE)
    except _workload_errors() as err:
        error_line(str(err))
        sys.exit(EXIT_USAGE if isinstance(err, ValueError) else EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)


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

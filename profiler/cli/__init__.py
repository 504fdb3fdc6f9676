"""The `finwatt` command line: parse, call a workflow, print.

`common` holds the typer app, the shared options and helpers; each command module
registers its commands on that app when imported here, so the arrows run one way:
command modules -> common.
"""

from __future__ import annotations

import logging
import sys

import typer

# Importing the command modules registers their commands, in this order, on `app`.
# isort: off
from profiler.cli import core  # noqa: F401
from profiler.cli import analysis, data, live, schedule  # noqa: F401

# isort: on
from profiler.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
    app,
    error_line,
)
from profiler.store.database import StoreError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `finwatt` console script: one-line errors, design exit codes."""
    logging.basicConfig(format="finwatt: warning: %(message)s", level=logging.WARNING)
    try:
        code = app(args=argv, standalone_mode=False)
    except UsageError as err:
        error_line(str(err.format_message()))  # type: ignore[attr-defined]
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except StoreError as err:
        error_line(str(err))
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)

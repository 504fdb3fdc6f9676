"""The one exception root: every finwatt error says what is wrong, the fix, and its exit code.

docs/design.md#exit-codes: 1 runtime failure, 2 bad usage or bad input. Each package's
errors subclass `FinwattRuntimeError` (exit 1) or `FinwattInputError` (exit 2); the CLI maps
any `FinwattError` to a one-line message and `exit_code` in one place
(`profiler.cli.main`). The two branches also keep the builtin each error had before the
root existed (`RuntimeError`, `ValueError`), so an `except ValueError` around a parser
still catches a `FinwattInputError`.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class FinwattError(Exception):
    """A finwatt error; the message is one line naming the problem and the fix."""

    exit_code: int = EXIT_FAILURE


class FinwattRuntimeError(FinwattError, RuntimeError):
    """Something failed at run time (a sensor, a file, a server, a lock): exit 1."""

    exit_code = EXIT_FAILURE


class FinwattInputError(FinwattError, ValueError):
    """The user's input or settings are wrong: exit 2."""

    exit_code = EXIT_USAGE


class ConfigError(FinwattInputError):
    """A setting has a bad value; the message names it and what is allowed."""

"""`model.errors`: the roots carry docs/design.md#exit-codes and the builtins they replaced."""

import pytest

from profiler.model.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ConfigError,
    FinwattError,
    FinwattInputError,
    FinwattRuntimeError,
)


def test_exit_codes() -> None:
    assert (EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED) == (1, 2, 130)  # 130: 128 + SIGINT


@pytest.mark.parametrize(
    ("error", "code", "builtin"),
    [
        (FinwattError, 1, Exception),
        (FinwattRuntimeError, 1, RuntimeError),
        (FinwattInputError, 2, ValueError),
        (ConfigError, 2, ValueError),
    ],
)
def test_each_root_has_its_exit_code_and_builtin(
    error: type[FinwattError], code: int, builtin: type[Exception]
) -> None:
    assert error.exit_code == code
    assert issubclass(error, FinwattError) and issubclass(error, builtin)
    raised = error("what is wrong; the fix")
    assert raised.exit_code == code and str(raised) == "what is wrong; the fix"


def test_an_except_value_error_still_catches_bad_input() -> None:
    with pytest.raises(ValueError):
        raise ConfigError("pue: must be at least 1")
    assert not issubclass(FinwattInputError, RuntimeError)
    assert not issubclass(FinwattRuntimeError, ValueError)

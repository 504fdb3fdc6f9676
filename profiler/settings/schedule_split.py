"""Set a config file's invalid `[[schedule]]` tables aside, so one bad entry stops nothing.

`finwatt schedule daemon`, `run-due` and `list` load the config with
`load_settings(skip_invalid_schedules=True)`: each `[[schedule]]` table that fails
validation (a cron that never fires, `every = 1e-9`, an unknown key, a name an earlier
entry uses) becomes an `InvalidEntry` with its one-line problem, and the others run.
The daemon logs the skipped ones, `list` shows them as invalid. A problem outside the
schedule (`[defaults]`, the top level) still stops the command: it concerns every entry.
Every other command, `schedule add` and `config check` keep refusing a file with an
invalid entry (exit 2), so the problem is found where it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from profiler.settings.schedule_entries import InvalidEntry, entry_prefix


def split_invalid_entries(
    path: Path, document: dict[str, Any]
) -> tuple[dict[str, Any], tuple[InvalidEntry, ...]]:
    """Return `document` without its invalid `[[schedule]]` tables, and those tables.

    Args:
        path: the config file (for the problem lines).
        document: the parsed file.

    Returns:
        The document holding only the valid tables (the same object when all are), and
        one `InvalidEntry` per table left out, in file order.
    """
    from pydantic import ValidationError

    from profiler.settings.config_model import ConfigFile, problem_lines

    tables = document.get("schedule")
    if not isinstance(tables, list) or not tables:
        return document, ()
    try:
        ConfigFile.model_validate(document)
        lines: list[str] = []
    except ValidationError as err:
        lines = problem_lines(path, document, err)
    problems: dict[int, str] = {}
    for index, table in enumerate(tables):
        prefix = entry_prefix(path, index, table)
        mine = [line for line in lines if line.startswith((prefix + " ", prefix + ":"))]
        if mine:
            problems[index] = mine[0] + (f" (and {len(mine) - 1} more)" if len(mine) > 1 else "")
    problems.update(repeated_names(path, tables, problems))
    if not problems:
        return document, ()
    kept = [t for i, t in enumerate(tables) if i not in problems]
    invalid = tuple(InvalidEntry(i + 1, _name(tables[i]), problems[i]) for i in sorted(problems))
    return {**document, "schedule": kept}, invalid


def repeated_names(path: Path, tables: list[Any], invalid: Mapping[int, str]) -> dict[int, str]:
    """Return the problem of each table not in `invalid` whose name an earlier one uses."""
    seen: set[str] = set()
    repeated = {}
    for index, table in enumerate(tables):
        name = _name(table)
        if index in invalid or name is None:
            continue
        if name in seen:
            prefix = entry_prefix(path, index, table)
            repeated[index] = f"{prefix} name {name!r} is used by an earlier entry"
        seen.add(name)
    return repeated


def _name(table: Any) -> str | None:
    name = table.get("name") if isinstance(table, dict) else None
    return name if isinstance(name, str) else None

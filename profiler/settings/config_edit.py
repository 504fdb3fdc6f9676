"""`finwatt schedule add` and `remove`: edit config.toml, keeping comments and layout.

It lives with the settings, not in `profiler.schedule`, because it edits and validates
the whole config file (`check_document`); `profiler.schedule` only reads entries, so
the arrow runs one way: settings -> schedule.

`add` appends a `[[schedule]]` table with tomlkit, which leaves every other byte as it
was. `remove` deletes the entry's lines (its header, its keys, and the comment lines
directly above its header and below its last key, with no blank line between) from the
text, so the comments of its neighbours and free-standing comments stay (tomlkit alone
would drop the comment above the next entry, which it keeps inside the removed table);
the result is parsed back and must hold exactly the other entries, or the file is
edited with tomlkit instead. An invalid entry can be removed (that is how a user drops
it); the rest of the file must stay valid. The new file is validated before it
replaces the old one (written to a temporary file, then renamed).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import tomlkit

from profiler.model.errors import ConfigError
from profiler.settings.config import check_document
from profiler.settings.schedule_entries import ScheduleEntry

_HEADER = re.compile(r"^\s*\[")
_SCHEDULE_HEADER = re.compile(r"^\s*\[\[\s*schedule\s*\]\]\s*(#.*)?$")
_COMMENT = re.compile(r"^\s*#")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8") if path.exists() else ""
    except UnicodeDecodeError as err:  # hostile input: a binary file named with --config
        raise ConfigError(f"{path}: not UTF-8 text, not a config file; fix it by hand") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from err


def _validate(path: Path, text: str) -> tuple[ScheduleEntry, ...]:
    """Validate a whole config text as `load_settings` would; returns its entries."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err}); fix it by hand") from err
    except ValueError as err:  # hostile input: tomllib's int() of a number over 4300 digits
        raise ConfigError(f"{path}: not valid TOML (a number of over 4300 digits)") from err
    return check_document(path, document)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise ConfigError(f"{path}: cannot write the config file: {err}") from err


def add_entry(path: Path, table: dict[str, Any]) -> ScheduleEntry:
    """Append `table` as a `[[schedule]]` entry of `path` (created if missing).

    Raises:
        ConfigError: the entry is invalid or its name is taken (file, key and problem).

    """
    text = _read(path)
    _check_new_entry(path, text, table)
    before = _validate(path, text)
    name = table.get("name")
    if any(e.name == name for e in before):
        raise ConfigError(f"{path}: [[schedule]] name {name!r} exists; remove it first")
    document = tomlkit.parse(text)
    new = tomlkit.table()
    for key, value in table.items():
        if value is not None:
            new[key] = value
    schedules = document.get("schedule")
    if schedules is None:
        aot = tomlkit.aot()
        aot.append(new)
        document.append("schedule", aot)
    elif isinstance(schedules, tomlkit.items.AoT):
        last = schedules[-1] if len(schedules) else None
        if last is not None and not last.as_string().endswith("\n\n"):
            last.add(tomlkit.nl())
        schedules.append(new)
    else:
        raise ConfigError(f"{path}: schedule must be an array of tables ([[schedule]])")
    updated = tomlkit.dumps(document)
    after = _validate(path, updated)
    _write(path, updated)
    return next(e for e in after if e.name == name)


def _attached_comments(lines: list[str], header: int) -> int:
    """Return where the comment lines directly above `header` (no blank line) begin."""
    start = header
    while start > 0 and _COMMENT.match(lines[start - 1]):
        start -= 1
    return start


def _check_new_entry(path: Path, text: str, table: dict[str, Any]) -> None:
    """Raise the new entry's own problem first (before any problem of the file's entries)."""
    from profiler.settings.schedule_split import split_invalid_entries

    try:
        document = tomllib.loads(text)
    except ValueError:  # TOMLDecodeError, or a number over 4300 digits (hostile input)
        return  # `_validate` says so
    tables = document.get("schedule", [])
    if not isinstance(tables, list):
        return
    new = {key: value for key, value in table.items() if value is not None}
    _, invalid = split_invalid_entries(path, {**document, "schedule": [*tables, new]})
    if invalid and invalid[-1].index == len(tables) + 1:
        raise ConfigError(invalid[-1].problem)


def _entry_ranges(lines: list[str]) -> list[tuple[int, int]]:
    """Return the [start, end) line range of each `[[schedule]]` table.

    A table owns the comment lines directly above its header (no blank line between),
    its header, its keys, and comment lines directly below its last key. A comment that
    a blank line separates from the table (a section heading, a note on what follows)
    is not the table's and stays. So does the blank line before the table; the one
    after it goes with it, so the file keeps one blank line between its neighbours.
    """
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    ranges = []
    for n, header in enumerate(headers):
        if not _SCHEDULE_HEADER.match(lines[header]):
            continue
        limit = _attached_comments(lines, headers[n + 1]) if n + 1 < len(headers) else len(lines)
        end = header + 1
        for i in range(header + 1, limit):
            if lines[i].strip() and not _COMMENT.match(lines[i]):
                end = i + 1  # the last key line (or a multi-line value's last line)
        while end < limit and _COMMENT.match(lines[end]):
            end += 1  # comments directly below its last key
        start = _attached_comments(lines, header)
        if start == 0 or not lines[start - 1].strip():
            while end < limit and not lines[end].strip():
                end += 1  # its trailing blank line(s): the one before it stays
        if end == len(lines):
            while start > 0 and not lines[start - 1].strip():
                start -= 1  # the last table: the blank line(s) before it go too
        ranges.append((start, end))
    return ranges


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except ValueError as err:  # TOMLDecodeError, or a number over 4300 digits (hostile input)
        raise ConfigError(f"{path}: not valid TOML ({err}); fix it by hand") from err


def _check_all_but_schedules(path: Path, text: str) -> list[Any]:
    """Validate `text` with its invalid [[schedule]] tables set aside; return all tables.

    An invalid entry must not stop its own removal (it is how a user drops it).
    """
    from profiler.settings.schedule_split import split_invalid_entries

    document = _parse(path, text)
    kept, _ = split_invalid_entries(path, document)
    check_document(path, kept)
    tables = document.get("schedule", [])
    return tables if isinstance(tables, list) else []


def remove_entry(path: Path, name: str) -> None:
    """Remove the `[[schedule]]` entry called `name` from `path`, even an invalid one.

    Only the entry's lines go (see `_entry_ranges`): unrelated comments stay. When the
    text cannot be cut safely (the result would not hold exactly the other entries),
    tomlkit removes the table instead.

    Raises:
        ConfigError: no such entry, or the file is invalid outside its entries.

    """
    text = _read(path)
    tables = _check_all_but_schedules(path, text)
    names = [t.get("name") if isinstance(t, dict) else None for t in tables]
    if name not in names:
        shown = ", ".join(str(n) for n in names if n is not None) or "none"
        raise ConfigError(f"{path}: no [[schedule]] entry named {name!r}; entries: {shown}")
    index = names.index(name)
    expected = tables[:index] + tables[index + 1 :]
    lines = text.splitlines(keepends=True)
    ranges = _entry_ranges(lines)
    updated = None
    if len(ranges) == len(tables):
        start, end = ranges[index]
        candidate = "".join(lines[:start] + lines[end:])
        try:
            if tomllib.loads(candidate).get("schedule", []) == expected:
                updated = candidate
        except tomllib.TOMLDecodeError:
            pass
    if updated is None:
        document = tomlkit.parse(text)
        del document["schedule"][index]
        updated = tomlkit.dumps(document)
    _check_all_but_schedules(path, updated)
    _write(path, updated)

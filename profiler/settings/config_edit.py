"""`finwatt schedule add` and `remove`: edit config.toml, keeping comments and layout.

It lives with the settings, not in `profiler.schedule`, because it edits and validates
the whole config file (`check_document`); `profiler.schedule` only reads entries, so
the arrow runs one way: settings -> schedule.

`add` appends a `[[schedule]]` table with tomlkit, which leaves every other byte as it
was. `remove` deletes the entry's lines (its header, its keys, and the comment lines
directly above its header) from the text, so the comments of its neighbours stay with
them; the result is parsed back and must hold exactly the other entries, or the file is
edited with tomlkit instead. Either way the new file is validated as a whole before it
replaces the old one (written to a temporary file, then renamed).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import tomlkit

from profiler.model.errors import ConfigError
from profiler.schedule.entries import ScheduleEntry
from profiler.settings.config import check_document

_HEADER = re.compile(r"^\s*\[")
_SCHEDULE_HEADER = re.compile(r"^\s*\[\[\s*schedule\s*\]\]\s*(#.*)?$")
_COMMENT = re.compile(r"^\s*#")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from err


def _validate(path: Path, text: str) -> tuple[ScheduleEntry, ...]:
    """Validate a whole config text as `load_settings` would; returns its entries."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err}); fix it by hand") from err
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


def _entry_ranges(lines: list[str]) -> list[tuple[int, int]]:
    """Return [start, end) line ranges of each `[[schedule]]` table, comments above included."""
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)]

    def block_start(header: int) -> int:
        start = header
        i = header - 1
        while i >= 0 and (_COMMENT.match(lines[i]) or not lines[i].strip()):
            if _COMMENT.match(lines[i]):
                start = i
            i -= 1
        return start

    ranges = []
    for n, header in enumerate(headers):
        if not _SCHEDULE_HEADER.match(lines[header]):
            continue
        end = block_start(headers[n + 1]) if n + 1 < len(headers) else len(lines)
        ranges.append((block_start(header), end))
    return ranges


def remove_entry(path: Path, name: str) -> None:
    """Remove the `[[schedule]]` entry called `name` from `path`.

    Raises:
        ConfigError: no such entry, or the file is invalid.

    """
    text = _read(path)
    before = _validate(path, text)
    names = [e.name for e in before]
    if name not in names:
        raise ConfigError(
            f"{path}: no [[schedule]] entry named {name!r}; entries: {', '.join(names) or 'none'}"
        )
    index = names.index(name)
    lines = text.splitlines(keepends=True)
    ranges = _entry_ranges(lines)
    updated = None
    if len(ranges) == len(names):
        start, end = ranges[index]
        candidate = "".join(lines[:start] + lines[end:])
        try:
            kept = tomllib.loads(candidate).get("schedule", [])
        except tomllib.TOMLDecodeError:
            kept = None
        expected = [t for t in tomllib.loads(text)["schedule"] if t.get("name") != name]
        if kept == expected:
            updated = candidate
    if updated is None:
        document = tomlkit.parse(text)
        del document["schedule"][index]
        updated = tomlkit.dumps(document)
    _validate(path, updated)
    _write(path, updated)

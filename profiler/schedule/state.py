"""The scheduler's memory: `<db>.schedule.json`, a small JSON file beside the database.

It holds, per entry name, the state `profiler.schedule.timing` needs (trigger, baseline, last
fire time handled) and what `finwatt schedule list` shows (last run, its status, how
many fire times were skipped), plus the newest `MAX_EVENTS` outcomes. Only the holder
of the scheduler lock writes it, each time whole (write to a temporary file, then
rename), so a reader never sees half a file. The runs themselves are in the database,
kind `scheduled`, labelled with the entry name. Inspect by hand:
`python -m json.tool ~/.local/share/finwatt/finwatt.db.schedule.json`.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from profiler.model.errors import FinwattRuntimeError
from profiler.model.units import iso_z, parse_iso
from profiler.schedule.timing import Decision, EntryState, FireResult, utc
from profiler.settings.schedule_entries import ScheduleEntry

FORMAT_VERSION = 1
MAX_EVENTS = 200


class ScheduleStateError(FinwattRuntimeError):
    """The state file cannot be read or written; the message names it and the fix."""


def state_path(db_path: Path) -> Path:
    """Return the state file of the database at `db_path` (`<db>.schedule.json`).

    Beside the database file its name leads to (symbolic links resolved), so a daemon
    started on a link reads the entries' last fire times the first one wrote, and an
    entry does not fire again. A hard link is another name with no "real" one: the
    scheduler lock (`profiler.capture.runlock.scheduler_lock`, by device and inode) keeps
    a second daemon from running there beside the first.
    """
    real = Path(os.path.realpath(db_path))
    return real.with_name(real.name + ".schedule.json")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(utc(moment), "microseconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


class StateFile:
    """Entry states and outcomes, kept in `path` (see the module docstring).

    Args:
        path: the JSON file; missing means no entry has been seen yet.

    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data = self._read()

    def _read(self) -> dict[str, Any]:
        empty: dict[str, Any] = {"version": FORMAT_VERSION, "entries": {}, "events": []}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty
        except OSError as err:
            raise ScheduleStateError(f"cannot read {self.path}: {err}") from err
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError(f"not a version {FORMAT_VERSION} finwatt schedule state")
            for entry in data["entries"].values():
                _time(entry["since"])
                _time(entry.get("last_fire"))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ScheduleStateError(
                f"{self.path} is damaged ({err}); delete it to start the schedule afresh"
            ) from err
        return data

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True) + "\n", "utf-8")
            tmp.replace(self.path)
        except OSError as err:
            raise ScheduleStateError(f"cannot write {self.path}: {err}") from err

    def entry(self, name: str) -> dict[str, Any]:
        """Return the stored record of `name` ({} if never seen)."""
        record = self._data["entries"].get(name, {})
        return dict(record)

    def events(self) -> list[dict[str, Any]]:
        """Return the newest outcomes, oldest first."""
        return list(self._data["events"])

    def states(self) -> dict[str, EntryState]:
        """Return every entry's scheduling state by name."""
        out: dict[str, EntryState] = {}
        for name, record in self._data["entries"].items():
            since = parse_iso(record["since"])
            out[name] = EntryState(record["trigger"], since, _time(record.get("last_fire")))
        return out

    def handled(self, entry: ScheduleEntry, state: EntryState, decision: Decision | None) -> None:
        """Keep the entry's state and the fire times the decision handled."""
        record = self._data["entries"].setdefault(entry.name, {"skipped_total": 0})
        changed = record.get("trigger") != state.trigger or record.get("since") != _iso(state.since)
        record["trigger"] = state.trigger
        record["since"] = _iso(state.since)
        record.setdefault("last_fire", None)
        if changed:
            record["last_fire"] = _iso(state.last_fire)
        if decision is not None:
            record["last_fire"] = _iso(decision.handled_up_to)
            if decision.skipped:
                record["skipped_total"] = record.get("skipped_total", 0) + decision.skipped
                record["last_skipped"] = {
                    "count": decision.skipped,
                    "first": _iso(decision.first_skipped),
                    "last": _iso(decision.last_skipped),
                }
                self._event(
                    {
                        "name": entry.name,
                        "fire_time": _iso(decision.last_skipped),
                        "status": "skipped",
                        "count": decision.skipped,
                        "first": _iso(decision.first_skipped),
                    }
                )
        if changed or decision is not None:
            self._write()

    def outcome(self, result: FireResult) -> None:
        """Record the result of a fired entry as its last run."""
        record = self._data["entries"].setdefault(result.name, {"skipped_total": 0})
        record["last_run"] = {
            "fire_time": _iso(result.fire_time),
            "run": result.run_id,
            "status": result.status,
            "message": result.message,
        }
        self._event(
            {
                "name": result.name,
                "fire_time": _iso(result.fire_time),
                "status": result.status,
                "run": result.run_id,
                "message": result.message,
            }
        )
        self._write()

    def _event(self, event: dict[str, Any]) -> None:
        events = self._data["events"]
        events.append(event)
        del events[:-MAX_EVENTS]

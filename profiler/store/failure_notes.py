"""Notes a recorder leaves when even marking its run `failed` could not be written.

On a full disk the write that closes a run can fail like the samples before it. The
recorder then leaves a small note outside the database's disk, in a private folder
(`0700`, owned by this user) under the system's temporary directory; the next command
that sweeps stale runs (`store.runs.mark_stale`) marks the run `failed` with the note's
reason and end time instead of `interrupted`, then deletes the note. Writing a note is
best effort: without one the run is still marked `interrupted` by that sweep.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailureNote:
    """Why a run failed and when its last sample was stored.

    Attributes:
        run_id: the run.
        reason: one line, as the recorder printed it.
        ended: ISO 8601 UTC time of the last stored sample (the run's start if none).
        path: the note's file.
    """

    run_id: str
    reason: str
    ended: str
    path: Path


def notes_dir() -> Path:
    """The private folder of this user's notes (not created here)."""
    return Path(tempfile.gettempdir()) / f"finwatt-{os.getuid()}" / "failed-runs"


def _prefix(db_path: Path) -> str:
    return hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:16]


def _private_dir() -> Path | None:
    """Create the notes folder 0700 if needed; None when it is not safely ours."""
    folder = notes_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in (folder.parent, folder):
            status = path.lstat()
            if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
                return None
    except OSError:
        return None
    return folder


def leave_note(db_path: Path, run_id: str, reason: str, ended: str) -> bool:
    """Leave a note that `run_id` in `db_path` failed; return True when it was written."""
    folder = _private_dir()
    if folder is None:
        return False
    note = folder / f"{_prefix(db_path)}-{run_id}.json"
    try:
        note.write_text(json.dumps({"run": run_id, "reason": reason, "ended": ended}), "utf-8")
    except OSError as err:
        log.warning("could not leave a note that run %s failed: %s", run_id, err)
        return False
    return True


def read_notes(db_path: Path) -> dict[str, FailureNote]:
    """Return the notes left for runs of `db_path`, by run id (unreadable ones skipped)."""
    folder = notes_dir()
    found: dict[str, FailureNote] = {}
    with contextlib.suppress(OSError):
        for path in folder.glob(f"{_prefix(db_path)}-*.json"):
            try:
                data = json.loads(path.read_text("utf-8"))
                note = FailureNote(str(data["run"]), str(data["reason"]), str(data["ended"]), path)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found[note.run_id] = note
    return found


def remove_note(note: FailureNote) -> None:
    """Delete a note once its run is marked."""
    note.path.unlink(missing_ok=True)

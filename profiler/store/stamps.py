"""What a stored run is stamped with: its id, UTC times, its owner's pid.

No SQL and no database here: the import path, the recorder and the CLI stamp runs with
these before (or without) touching a `Store`.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from profiler.model.units import iso_z


def utc_now_iso() -> str:
    """Return the current UTC wall time as ISO 8601 with a `Z` suffix (milliseconds)."""
    return iso_z(datetime.now(UTC), "milliseconds")


def new_run_id() -> str:
    """Return a sortable run id: UTC timestamp plus 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def pid_alive(pid: int) -> bool:
    """Return True when process `pid` exists on this host (it may belong to someone else)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""Read `sample_minute` rows as the rollup tests compare them (the store reads series)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from profiler.store.rollup import MINUTE_COLUMNS


def minute_rows(path: Path, run_id: str, device_id: str) -> list[dict[str, Any]]:
    """Return one device's `sample_minute` rows (MINUTE_COLUMNS) in minute order."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            f"SELECT {', '.join(MINUTE_COLUMNS)} FROM sample_minute "
            "WHERE run_id = ? AND device_id = ? ORDER BY minute",
            (run_id, device_id),
        )
        return [dict(r) for r in rows]

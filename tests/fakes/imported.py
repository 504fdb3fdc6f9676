"""A database holding one run, imported through the real `finwatt import` command.

For end-to-end tests that start from a stored run (`analyze`, `report`, `doctor`): the
document is written to a file and imported by the CLI in a child process, as a user would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.cli import run_finwatt


def import_document(doc: Mapping[str, Any], directory: Path, name: str = "run") -> Path:
    """Write `doc` to `<directory>/<name>.json` and `finwatt import` it into a database.

    Args:
        doc: an interchange document (`tests.fakes.history.history_doc`, a ladder).
        directory: where the document and the database `f.db` are written.
        name: the document file's stem.

    Returns:
        The database's path.

    Raises:
        AssertionError: the import exited non-zero (the message is its stderr).
    """
    path = directory / f"{name}.json"
    path.write_text(json.dumps(doc))
    db = directory / "f.db"
    result = run_finwatt("import", str(path), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db

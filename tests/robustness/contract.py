"""What the robustness suite shares: a private finwatt home, the error contract, row counts,
and tiny real HTTP servers on 127.0.0.1 that answer like a broken Prometheus.

The fixtures (`home`, `http_server`) are registered by this folder's conftest.py.

The contract each case asserts (docs/decisions.md#hostile-input): exit 1 (runtime) or 2 (bad input),
exactly one `finwatt: error:` line on stderr naming the problem and the fix, never a
Python traceback, and nothing stored where nothing may be.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BASE_DOCUMENT: dict[str, Any] = {
    "format": "finwatt-run",
    "version": 1,
    "run": {
        "id": "base",
        "kind": "profile",
        "host": "h",
        "started": "2026-11-01T00:00:00Z",
        "ended": "2026-11-01T00:00:10Z",
        "status": "complete",
        "interval_s": 1.0,
        "config": {},
    },
    "devices": [
        {"id": "cpu:0", "kind": "cpu", "logical_cores": 4, "provenance": "measured:rapl"},
        {"id": "host", "kind": "host", "logical_cores": 4, "mem_total_bytes": 2**30},
    ],
    "samples": [
        {"t": float(t), "device": "cpu:0", "util": 0.5, "power_w": 50.0, "energy_j": 50.0 * t}
        for t in range(11)
    ]
    + [{"t": float(t), "device": "host", "util": 0.5, "mem_used_bytes": 2**20} for t in range(11)],
    "phases": [
        {
            "workload": "risk",
            "device": "cpu:0",
            "target_load": 1.0,
            "t_start": 0.0,
            "t_end": 10.0,
            "units": 1000.0,
            "unit": "paths",
        }
    ],
    "findings": [],
}
"""A small valid run document: one CPU package, the host, ten seconds, one phase."""

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]
"""Answers one request (the handler's `path` says which endpoint)."""


@dataclass(frozen=True)
class Home:
    """A finwatt home in a temporary directory: its database, config file and environment."""

    root: Path
    db: Path
    config: Path
    env: dict[str, str]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """Return a private finwatt home; nothing of the user's settings leaks in."""
    config = tmp_path / "config" / "finwatt" / "config.toml"
    db = tmp_path / "data" / "f.db"
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "FINWATT_DB": str(db),
        "FINWATT_CONFIG": "",
        "FINWATT_CPU_TDP_W": "",
        "FINWATT_CPU_IDLE_RATIO": "",
        "COLUMNS": "200",
    }
    return Home(tmp_path, db, config, env)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Assert the error contract; return the error line.

    Args:
        result: the finished `finwatt` process.
        code: the exit status expected (1 runtime failure, 2 bad input).
        *words: text the line must contain (the problem, the option or the fix).
    """
    context = f"exit {result.returncode}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, context
    assert result.returncode == code, context
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("finwatt: error: ")]
    assert len(errors) == 1 and len(lines) == 1, context
    for word in words:
        assert word in errors[0], f"{word!r} not in {errors[0]!r}"
    return errors[0]


def row_counts(db: Path) -> dict[str, int]:
    """Return {table: rows} of a database, {} when the file does not exist."""
    if not db.exists():
        return {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@pytest.fixture
def http_server() -> Iterator[Callable[[Handler], str]]:
    """Start real HTTP servers on 127.0.0.1; each answers with the given handler.

    Yields:
        A function taking a handler and returning the server's base URL.
    """
    servers: list[_Server] = []

    def start(answer: Handler) -> str:
        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with contextlib.suppress(OSError):  # the client gave up (a deadline test)
                    answer(self)

            do_GET = do_POST  # noqa: N815 - http.server's name

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def json_answer(document: object, *, status: int = 200) -> Handler:
    """Return a handler answering every request with `document` as JSON."""
    body = json.dumps(document).encode()

    def answer(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return answer


def trickle_answer(seconds: float) -> Handler:
    """Return a handler that sends a valid-looking answer one byte a second for `seconds`."""

    def answer(request: http.server.BaseHTTPRequestHandler) -> None:
        body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body) + 1000))
        request.end_headers()
        request.wfile.flush()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            request.wfile.write(b" ")
            request.wfile.flush()
            time.sleep(1.0)

    return answer

"""A hostile BMC through the real CLI: `doctor`, `monitor` and `exec` go on, the node says why.

A Redfish service of this file on 127.0.0.1 (plain http:// is allowed to the loopback
address) answers with what broke finwatt before (docs/decisions.md#hostile-input): JSON
nested 100,000 deep, `Links` as a list and `Status` as a string, a power of 1e308 W.
`doctor` exits 0 with the reason, `monitor --json` exits 0 with the node degraded, the
job under `exec` runs, and the run finwatt recorded imports back into finwatt.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cli import run_finwatt
from tests.robustness.contract import Home

Tree = dict[str, bytes]


def redfish_tree(watts: float, *, odd_shapes: bool = False) -> Tree:
    """A minimal Redfish service: root, one chassis, its legacy Power resource."""
    chassis: dict[str, Any] = {
        "Id": "1U",
        "Power": {"@odata.id": "/redfish/v1/Chassis/1U/Power"},
        "Links": [{"ManagedBy": "BMC"}] if odd_shapes else {"ManagedBy": []},
        "Status": "OK" if odd_shapes else {"State": "Enabled"},
    }
    power = {"PowerControl": [{"PowerConsumedWatts": watts}]}
    return {
        "/redfish/v1": json.dumps({"Chassis": {"@odata.id": "/redfish/v1/Chassis"}}).encode(),
        "/redfish/v1/Chassis": json.dumps(
            {"Members": [{"@odata.id": "/redfish/v1/Chassis/1U"}]}
        ).encode(),
        "/redfish/v1/Chassis/1U": json.dumps(chassis).encode(),
        "/redfish/v1/Chassis/1U/Power": json.dumps(power).encode(),  # 1e308 stays a number
    }


@pytest.fixture
def bmc() -> Iterator[Callable[[Tree], str]]:
    """Serve a tree of raw answers over HTTP on 127.0.0.1; return the config table."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(tree: Tree) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = tree.get(self.path.rstrip("/"))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                """Stay quiet."""

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return (
            f'[bmc]\nredfish_url = "http://127.0.0.1:{server.server_address[1]}"\n'
            'ipmi = "off"\npoll_interval_s = 0.2\ntimeout_s = 2\n'
        )

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def finwatt(home: Home, config: str, *args: str) -> Any:
    home.config.parent.mkdir(parents=True, exist_ok=True)
    home.config.write_text(config)
    done = run_finwatt(*args, env={**home.env, "FINWATT_CONFIG": str(home.config)}, timeout=60)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def redfish_family(doctor_stdout: str) -> dict[str, Any]:
    families = json.loads(doctor_stdout)["families"]
    return dict(next(f for f in families if f["family"] == "redfish"))


def test_doctor_reports_json_nested_too_deep_and_exits_0(
    home: Home, bmc: Callable[[Tree], str]
) -> None:
    config = bmc({"/redfish/v1": b"[" * 100_000 + b"]" * 100_000})
    done = finwatt(home, config, "doctor", "--json")
    assert done.returncode == 0, done.stderr
    family = redfish_family(done.stdout)
    assert family["state"] == "not_readable" and "nested deeper" in family["reason"], family


def test_doctor_reads_around_odd_shapes(home: Home, bmc: Callable[[Tree], str]) -> None:
    done = finwatt(home, bmc(redfish_tree(344.0, odd_shapes=True)), "doctor", "--json")
    assert done.returncode == 0, done.stderr
    assert redfish_family(done.stdout)["state"] == "found"


def test_exec_runs_the_job_beside_a_bmc_with_odd_shapes(
    home: Home, bmc: Callable[[Tree], str]
) -> None:
    marker = home.root / "ran"
    config = bmc(redfish_tree(344.0, odd_shapes=True))
    done = finwatt(home, config, "exec", "--", "touch", str(marker))
    assert done.returncode == 0, done.stderr
    assert marker.exists()


def test_an_impossible_power_is_dropped_and_the_run_imports_back(
    home: Home, bmc: Callable[[Tree], str], tmp_path: Path
) -> None:
    config = bmc(redfish_tree(1e308))
    done = finwatt(home, config, "monitor", "--duration", "1s", "--interval", "0.2s", "--json")
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # one valid document (no Infinity)
    [run] = json.loads(finwatt(home, config, "runs", "--json").stdout)["runs"]
    exported = tmp_path / "run.json"
    done = finwatt(home, config, "export", run["id"], "-o", str(exported))
    assert done.returncode == 0, done.stderr
    document = json.loads(exported.read_text())
    node = [s for s in document["samples"] if s["device"] == "node"]
    assert node and all(s.get("power_w") is None for s in node)
    other = home.root / "other.db"
    done = finwatt(home, config, "import", str(exported), "--db", str(other))
    assert done.returncode == 0, done.stderr

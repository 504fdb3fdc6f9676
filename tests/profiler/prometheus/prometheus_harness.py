"""A real Prometheus server for tests: temporary config and data dir, a free loopback port.

Tests that need it call `require_prometheus()`: without `prometheus`/`promtool` on PATH
they skip loudly on a developer machine and fail under CI (`CI` set), where `.ci/run`
installs Debian's `prometheus` package.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.fakes.tools import free_port, require_tools, stop_process


def require_prometheus() -> tuple[str, str]:
    """Return the paths of (prometheus, promtool), or skip (fail under CI) without them."""
    prometheus, promtool = require_tools(
        "prometheus",
        "promtool",
        reason="PROMETHEUS NOT INSTALLED: the exporter/fleet tests need `prometheus` and "
        "`promtool` on PATH (Debian: apt-get install prometheus)",
    )
    return prometheus, promtool


def http_get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return str(answer.read().decode("utf-8"))


class Prometheus:
    """Runs `prometheus` on a free loopback port scraping `targets` every second."""

    def __init__(self, tmp: Path, *, targets: list[str] | None = None, data: Path | None = None):
        self.binary, _ = require_prometheus()
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.data = data or tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = [
            "global:",
            "  scrape_interval: 1s",
            "  scrape_timeout: 1s",
            "  evaluation_interval: 1s",
            "scrape_configs:",
            "  - job_name: finwatt",
            "    static_configs:",
            f"      - targets: {json.dumps(targets or [])}",
        ]
        self.config = tmp / "prometheus.yml"
        self.config.write_text("\n".join(config) + "\n")
        self.log = tmp / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.data}",
                    "--storage.tsdb.retention.time=30d",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            try:
                http_get(f"{self.url}/-/ready", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise AssertionError(f"prometheus not ready: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process, timeout_s=15)

    def api(self, endpoint: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        document = json.loads(http_get(f"{self.url}/api/v1/{endpoint}?{query}"))
        assert document["status"] == "success", document
        return document["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def wait_for(self, expr: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """Poll an instant query until it returns a non-empty vector."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no result for {expr!r} after {timeout_s}s")


@contextmanager
def backfilled(tmp: Path, openmetrics: str, timeout_s: float = 300) -> Iterator[Prometheus]:
    """Yield a Prometheus serving `openmetrics` (OpenMetrics text), backfilled by promtool.

    History in the past (inside retention) goes in as TSDB blocks, as an operator
    backfills it: no scrape, no waiting for samples to arrive.
    """
    _, promtool = require_prometheus()
    source, data = tmp / "fleet.om", tmp / "data"
    source.write_text(openmetrics)
    created = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    with Prometheus(tmp / "prom", data=data) as prom:
        yield prom


def openmetrics_document(families: dict[str, list[str]]) -> str:
    """Return OpenMetrics text of `families` ({name: sample lines}); `_total` ones are counters."""
    out: list[str] = []
    for name, lines in families.items():
        counter = name.removesuffix("_total")
        out.append(f"# TYPE {counter} counter" if counter != name else f"# TYPE {name} gauge")
        out.extend(lines)
    return "\n".join([*out, "# EOF"]) + "\n"

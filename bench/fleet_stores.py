"""The two real stores `bench/fleet.py` (and CI's small fleet test) load and query.

- `PrometheusStore`: days of OpenMetrics turned into TSDB blocks by
  `promtool tsdb create-blocks-from openmetrics --max-block-duration=24h` (one file per
  UTC day, so promtool parses each file once), then `prometheus` serving that directory.
- `VictoriaStore`: `victoria-metrics` (Debian's package; the single-node build of the
  store that also scales out as a cluster), fed through its `/api/v1/import` JSON lines.

Both listen on a free 127.0.0.1 port; `close()` stops the process and keeps nothing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar


class StoreMissingError(RuntimeError):
    """The store's binary is not installed."""


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StoreMissingError(f"{name} is not installed (Debian: apt-get install {name})")
    return path


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url}: not ready after {timeout_s:g} s: {log.read_text()[-2000:]}")


class _Process:
    name = "store"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _start(self, argv: list[str], ready_path: str, timeout_s: float = 120.0) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        _wait_ready(self.url + ready_path, self.process, self.log, timeout_s)

    def close(self) -> None:
        """Stop the server (terminate, then kill after 30 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PrometheusStore(_Process):
    """Prometheus over TSDB blocks built with promtool, one UTC day at a time."""

    name = "prometheus"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = _binary("prometheus")
        self.promtool = _binary("promtool")
        self.data = workdir / "data"

    def add_day(self, chunks: Iterable[str]) -> None:
        """Write one day of OpenMetrics and turn it into a TSDB block."""
        source = self.workdir / "day.om"
        with source.open("w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(chunk)
        argv = [
            self.promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            "--max-block-duration=24h",
            str(source),
            str(self.data),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800)
        source.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"promtool failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        """Serve the blocks (30-day retention keeps 14 days of history)."""
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
        argv = [
            self.binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data}",
            "--storage.tsdb.retention.time=30d",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self._start(argv, "/-/ready")


class VictoriaStore(_Process):
    """Single-node VictoriaMetrics fed through `/api/v1/import`."""

    name = "victoria-metrics"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = _binary("victoria-metrics")

    def start(self) -> None:
        """Start it empty; `-search.maxQueryLen` lets a group selector name many hosts."""
        argv = [
            self.binary,
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=1y",
            "-search.maxQueryLen=1048576",
            "-search.latencyOffset=0s",
            "-loggerLevel=ERROR",
        ]
        self._start(argv, "/health")

    def add_day(self, chunks: Iterable[bytes]) -> None:
        """POST one day of JSON lines (chunked) to `/api/v1/import`."""
        request = urllib.request.Request(
            self.url + "/api/v1/import", data=iter(chunks), method="POST"
        )
        with urllib.request.urlopen(request, timeout=1800) as answer:
            answer.read()

    def flush(self) -> None:
        """Make every imported sample searchable now (`/internal/force_flush`)."""
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=120) as answer:
            answer.read()


Store = PrometheusStore | VictoriaStore
H = TypeVar("H")
"""A store a fleet benchmark loads and queries."""


def load_days(
    stores: Sequence[Store],
    hosts: H,
    days: Iterable[int],
    openmetrics_day: Callable[[H, int], Iterable[str]],
    jsonl_day: Callable[[H, int], Iterable[bytes]],
) -> dict[str, float]:
    """Load the hosts' days (UTC midnights) into every store; return seconds per store.

    Each day's samples come from `openmetrics_day(hosts, day)` or `jsonl_day(hosts, day)`.

    Prometheus takes each day as OpenMetrics text blocks and builds its TSDB when it
    starts; VictoriaMetrics starts first, takes JSON lines and is flushed at the end.
    """
    seconds = {store.name: 0.0 for store in stores}
    for victoria in (s for s in stores if isinstance(s, VictoriaStore)):
        victoria.start()
    for day in days:
        for store in stores:
            began = time.perf_counter()
            if isinstance(store, PrometheusStore):
                store.add_day(openmetrics_day(hosts, day))
            else:
                store.add_day(jsonl_day(hosts, day))
            seconds[store.name] += time.perf_counter() - began
    for store in stores:
        began = time.perf_counter()
        if isinstance(store, PrometheusStore):
            store.start()
        else:
            store.flush()
        seconds[store.name] += time.perf_counter() - began
    return seconds

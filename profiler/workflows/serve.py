"""Serve live readings to Prometheus: the wiring `finwatt serve` and the daemon share.

probe -> `FinwattCollector` in its own registry -> `MetricsServer` on host:port ->
`Sampler([collector.observe])`, all closed in reverse order when the block ends.
`finwatt monitor --serve` records as well, so it starts only the exporter
(`start_exporter`) and hands `observe` to its `Recording` as a sink.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from profiler.capture.sampler import Sampler
from profiler.files.version import finwatt_version
from profiler.model.device import DeviceInfo
from profiler.model.errors import FinwattRuntimeError
from profiler.prometheus.exporter import FinwattCollector, MetricsServer, make_registry
from profiler.prometheus.webconfig import WebConfig
from profiler.settings.config import Settings
from profiler.workflows.fleet import curve_for_exporter
from profiler.workflows.job_progress import progress_folder, read_running
from profiler.workflows.probe import probe


class ServeError(FinwattRuntimeError):
    """The metrics server cannot listen where asked; the message names address and reason."""


@dataclass(frozen=True)
class Exporter:
    """A running `/metrics` endpoint.

    Attributes:
        collector: feed it every tick (`collector.observe` is a sampler sink).
        server: the HTTP server; `server.port` is the port bound (0 picks a free one).
    """

    collector: FinwattCollector
    server: MetricsServer

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return self.server.port

    def close(self) -> None:
        """Stop serving."""
        self.server.close()


def start_exporter(
    devices: Sequence[DeviceInfo], host: str, port: int, web: WebConfig | None = None
) -> Exporter:
    """Start serving `/metrics` for `devices` on `host`:`port` (0 picks a free port).

    `web`: TLS and basic auth from a Prometheus web-config file (None: plain HTTP).

    Raises:
        ServeError: the address cannot be bound (in use, not an address of this host).
    """
    collector = FinwattCollector(devices, finwatt_version())
    try:
        server = MetricsServer(make_registry(collector), host, port, web)
    except OSError as err:
        reason = err.strerror or str(err)
        raise ServeError(f"cannot serve metrics on {host}:{port}: {reason}") from err
    return Exporter(collector, server)


@contextmanager
def serving(
    settings: Settings,
    host: str,
    port: int,
    interval_s: float,
    web: WebConfig | None = None,
) -> Iterator[Exporter]:
    """Sample every sensor each `interval_s` and serve the readings while the block runs.

    Raises:
        ServeError: see `start_exporter`.
    """
    with ExitStack() as cleanup:
        sensors = probe(settings)
        cleanup.callback(sensors.close)
        exporter = start_exporter(sensors.devices, host, port, web)
        cleanup.callback(exporter.close)
        exporter.collector.publish_curve(curve_for_exporter(settings.db_path))
        folder = progress_folder(settings)
        exporter.collector.running_jobs = lambda: read_running(folder, time.time())
        sampler = Sampler(
            sensors.families, sensors.family_devices, interval_s, [exporter.collector.observe]
        )
        sampler.start()
        cleanup.callback(sampler.stop)
        yield exporter

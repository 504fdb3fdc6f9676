"""A small Redfish service on 127.0.0.1 (HTTPS, basic auth) serving DMTF's mockup files.

The data are DMTF's published mockup *public-rackmount1* (`data/redfish/`, see its
README), copied to a temporary directory the test edits: every GET reads the file again,
so changing `InputPowerWatts` or `PowerConsumedWatts` there changes what finwatt reads.
`/redfish/v1/X` is served from `X/index.json`; the service root needs no credentials,
everything else HTTP basic auth, as the Redfish specification says. The certificate comes
from a throwaway CA made with the `openssl` command.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from profiler.sensors.bmc.config import BmcConfig, Credentials
from tests.fakes.tools import require_tools

MOCKUP = Path(__file__).parent / "data" / "redfish" / "public-rackmount1"
USER = "finwatt"
PASSWORD = "redfish-not-in-argv"
ENV = "FINWATT_TEST_REDFISH_PASSWORD"  # the variable `config_for` names for the password
BAY1_METRICS = "Chassis/1U/PowerSubsystem/PowerSupplies/Bay1/Metrics/index.json"
LEGACY_POWER = "Chassis/1U/Power/index.json"
CHASSIS = "Chassis/1U/index.json"


def require_openssl() -> str:
    """Return the openssl binary, or skip (fail under CI) without it."""
    (openssl,) = require_tools(
        "openssl",
        reason="OPENSSL NOT INSTALLED: the Redfish TLS tests need `openssl` "
        "(apt-get install openssl)",
    )
    return openssl


@dataclass(frozen=True)
class Pki:
    """A throwaway CA and a server certificate for IP 127.0.0.1."""

    ca: Path
    cert: Path
    key: Path


def make_pki(tmp: Path) -> Pki:
    """Create a CA and a server certificate (subjectAltName IP:127.0.0.1) under `tmp`."""
    openssl = require_openssl()

    def run(*args: str) -> None:
        done = subprocess.run([openssl, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    ca, ca_key = tmp / "ca.pem", tmp / "ca.key"
    key, csr, cert, ext = (tmp / f"server.{s}" for s in ("key", "csr", "pem", "ext"))
    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", str(ca_key), "-out", str(ca),
    )  # fmt: skip
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("req", "-new", "-key", str(key), "-subj", "/CN=127.0.0.1", "-out", str(csr))
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return Pki(ca, cert, key)


@dataclass
class MockupService:
    """A running service: its URL, CA, and the editable copy of the mockup."""

    url: str
    ca: Path
    root: Path

    def edit(self, relative: str, change: Any) -> None:
        """Load `relative` (a JSON file of the mockup), apply `change` to it, save it."""
        path = self.root / relative
        document = json.loads(path.read_text(encoding="utf-8"))
        change(document)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=4), encoding="utf-8")
        tmp.replace(path)

    def set_supply_input_w(self, watts: float) -> None:
        """Set Bay1's `InputPowerWatts.Reading` (the PowerSubsystem path)."""
        self.edit(BAY1_METRICS, lambda d: d["InputPowerWatts"].__setitem__("Reading", watts))

    def set_consumed_w(self, watts: float) -> None:
        """Set `PowerControl[0].PowerConsumedWatts` (the legacy Power path)."""
        self.edit(
            LEGACY_POWER, lambda d: d["PowerControl"][0].__setitem__("PowerConsumedWatts", watts)
        )


def _handler(root: Path) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if not (path == "/redfish/v1" or path.startswith("/redfish/v1/")) or ".." in path:
                self._send(404, {"error": "not found"})
                return
            if path != "/redfish/v1" and self.headers.get("Authorization") != expected:
                self._send(401, {"error": "authentication required"})
                return
            file = root / path.removeprefix("/redfish/v1").lstrip("/") / "index.json"
            if not file.is_file():
                self._send(404, {"error": "not found"})
                return
            self._send(200, json.loads(file.read_text(encoding="utf-8")))

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Stay quiet."""

    return Handler


@contextmanager
def redfish_service(tmp: Path, pki: Pki) -> Iterator[MockupService]:
    """Serve a copy of the mockup over HTTPS on a free port of 127.0.0.1."""
    root = tmp / "mockup"
    shutil.copytree(MOCKUP, root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert, pki.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="redfish-mockup", daemon=True
    )
    thread.start()
    try:
        yield MockupService(f"https://127.0.0.1:{server.server_address[1]}", pki.ca, root)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def config_for(service: MockupService, **overrides: object) -> BmcConfig:
    """A Redfish config for `service` (password from `ENV`), with `overrides` set."""
    values: dict[str, object] = {
        "redfish_url": service.url,
        "redfish_credentials": Credentials(USER, None, ENV),
        "redfish_ca_bundle": service.ca,
        "poll_interval_s": 0.1,
        "timeout_s": 2.0,
    }
    values.update(overrides)
    return BmcConfig(**values)  # type: ignore[arg-type]


@contextmanager
def loopback_listener(on_accept: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A TCP listener on 127.0.0.1 (its port) handing each connection to `on_accept`.

    `on_accept` runs on the accepting thread with the connection and the event set on the
    way out; the listener closes when the block ends.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            on_accept(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()

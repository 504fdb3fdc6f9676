"""A fake kubelet: a real HTTPS server on 127.0.0.1 serving the `/pods` PodList JSON.

The kubelet's API is TLS on port 10250 with bearer-token authentication; this server
answers `GET /pods` with the JSON in `pod_list.json` (the `v1.PodList` shape a kubelet
returns: metadata, spec.containers[].resources, status.qosClass and containerStatuses[]
with `containerd://` ids) to a request bearing `TOKEN`, 401 to any other, and records
every request's Authorization header so a test can see what was sent.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.profiler.sensors.bmc.redfish_harness import Pki

POD_LIST = Path(__file__).with_name("pod_list.json")
TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-service-account-token"


@dataclass
class FakeKubelet:
    """A running fake kubelet: its URL, the document it serves and what it was sent."""

    url: str
    document: dict[str, Any]
    authorizations: list[str | None] = field(default_factory=list)
    status: int = 200


def _handler(kubelet: FakeKubelet) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            kubelet.authorizations.append(auth)
            if auth != f"Bearer {TOKEN}":
                self._send(401, {"kind": "Status", "status": "Failure", "code": 401})
            elif self.path != "/pods":
                self._send(404, {"kind": "Status", "code": 404})
            else:
                self._send(kubelet.status, kubelet.document)

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_kubelet(pki: Pki) -> Iterator[FakeKubelet]:
    """Serve the pod list over HTTPS on a free port of 127.0.0.1."""
    kubelet = FakeKubelet("", json.loads(POD_LIST.read_text()))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(kubelet))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert, pki.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    kubelet.url = f"https://127.0.0.1:{server.server_address[1]}/pods"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield kubelet
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

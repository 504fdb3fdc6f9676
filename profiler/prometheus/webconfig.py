"""TLS and basic auth for the exporter: a web-config file in Prometheus's own format.

`finwatt serve --web-config FILE` reads the same YAML that Prometheus, node_exporter and
the other official exporters read (`--web.config.file`), so one file and one procedure
serve every exporter on a host:

    tls_server_config:
      cert_file: /etc/finwatt/tls/server.pem
      key_file: /etc/finwatt/tls/server.key
      client_ca_file: /etc/finwatt/tls/ca.pem     # optional: mutual TLS ...
      client_auth_type: RequireAndVerifyClientCert  # ... and require it
      min_version: TLS12                           # optional (TLS12 by default)
    basic_auth_users:
      prometheus: $2y$10$...                       # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':')

Passwords are bcrypt hashes, never plain text; a request without valid credentials gets
401 and a `WWW-Authenticate` challenge. The server still binds 127.0.0.1 by default.

Hostile input (docs/decisions.md#hostile-input): the file is read with a size cap and only
when it is a regular file (`/dev/zero` or a FIFO is a one-line error, not a hang); an
unknown user costs the same bcrypt work as a known one (a dummy hash of the users' cost),
so the answer's timing does not say which users exist; a password over bcrypt's 72 bytes
is refused (401) after the same work; a failed TLS handshake (a plain-HTTP client on the
TLS port) is one log line, never a traceback.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import ssl
import sys
import threading
from base64 import b64decode
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import bcrypt
import yaml
from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app
from prometheus_client.registry import CollectorRegistry

from profiler.files.small_files import SmallFileError, read_small_text
from profiler.model.errors import FinwattInputError

log = logging.getLogger(__name__)

CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
WEB_CONFIG_MAX_BYTES = 1024 * 1024
"""The largest web-config file read (1 MiB: thousands of users' bcrypt hashes)."""
BCRYPT_MAX_PASSWORD_BYTES = 72
"""bcrypt reads at most 72 bytes of a password; a longer one is refused, not truncated."""
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(?P<cost>\d\d)\$[./A-Za-z0-9]{53}")


class WebConfigError(FinwattInputError):
    """The web-config file is unreadable or wrong; the message names the key and the fix."""


@dataclass(frozen=True)
class WebConfig:
    """What the exporter's HTTP endpoint requires.

    Attributes:
        cert_file: server certificate (PEM); None serves plain HTTP.
        key_file: its private key (PEM).
        client_ca_file: CA bundle that signs client certificates (mutual TLS).
        client_auth_type: Prometheus's name of the client-certificate policy.
        min_version: the lowest TLS version accepted.
        users: user name -> bcrypt hash; empty means no basic auth.

    """

    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    users: dict[str, bytes] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        """True when the endpoint serves HTTPS."""
        return self.cert_file is not None


def load_web_config(path: Path) -> WebConfig:
    """Read a Prometheus web-config file (`tls_server_config`, `basic_auth_users`).

    Raises:
        WebConfigError: unreadable, an unknown key, a plain-text password, or a named
            file that does not exist.
    """
    where = f"--web-config {path}"
    try:
        text = read_small_text(path, max_bytes=WEB_CONFIG_MAX_BYTES)
    except SmallFileError as err:  # a FIFO, /dev/zero, a directory, a binary file
        raise WebConfigError(f"{where}: cannot read it ({err})") from err
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        reason = " ".join(str(err).split())
        raise WebConfigError(f"{where}: cannot read it as YAML ({reason})") from err
    if not isinstance(document, dict):
        raise WebConfigError(f"{where}: expected tls_server_config and/or basic_auth_users")
    unknown = set(document) - {"tls_server_config", "basic_auth_users", "http_server_config"}
    if unknown:
        raise WebConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    tls = _tls_section(document.get("tls_server_config") or {}, where)
    users = _users(document.get("basic_auth_users") or {}, where)
    return WebConfig(users=users, **tls)


def _tls_section(section: Any, where: str) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise WebConfigError(f"{where}: tls_server_config must be a mapping")
    known = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version"}
    unknown = set(section) - known
    if unknown:
        raise WebConfigError(f"{where}: unknown tls_server_config key(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key in ("cert_file", "key_file", "client_ca_file"):
        if section.get(key):
            file = Path(str(section[key]))
            if not file.is_file():
                raise WebConfigError(f"{where}: tls_server_config.{key} {file} does not exist")
            values[key] = file
    if ("cert_file" in values) != ("key_file" in values):
        raise WebConfigError(f"{where}: tls_server_config needs both cert_file and key_file")
    auth_type = str(section.get("client_auth_type", "NoClientCert"))
    if auth_type not in CLIENT_AUTH_TYPES:
        raise WebConfigError(f"{where}: client_auth_type: use one of {sorted(CLIENT_AUTH_TYPES)}")
    version = str(section.get("min_version", "TLS12"))
    if version not in TLS_VERSIONS:
        raise WebConfigError(f"{where}: min_version: use TLS12 or TLS13")
    if values and auth_type.startswith("RequireAndVerify") and "client_ca_file" not in values:
        raise WebConfigError(f"{where}: {auth_type} needs tls_server_config.client_ca_file")
    return {**values, "client_auth_type": auth_type, "min_version": version}


def _users(section: Any, where: str) -> dict[str, bytes]:
    if not isinstance(section, dict):
        raise WebConfigError(f"{where}: basic_auth_users must map user names to bcrypt hashes")
    users: dict[str, bytes] = {}
    for name, hashed in section.items():
        text = str(hashed)
        if not _BCRYPT_HASH.fullmatch(text):
            raise WebConfigError(
                f"{where}: basic_auth_users.{name} is not a bcrypt hash; make one with "
                f"`htpasswd -nBC 10 \"\" | tr -d ':'`"
            )
        users[str(name)] = text.replace("$2y$", "$2b$", 1).encode("ascii")
    return users


def ssl_context(config: WebConfig) -> ssl.SSLContext:
    """Return the server-side TLS context the config asks for."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[config.min_version]
    context.load_cert_chain(str(config.cert_file), str(config.key_file))
    if config.client_ca_file is not None:
        context.load_verify_locations(str(config.client_ca_file))
    context.verify_mode = CLIENT_AUTH_TYPES[config.client_auth_type]
    return context


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def dummy_hash(users: dict[str, bytes]) -> bytes:
    """Return a bcrypt hash of a random secret at the highest cost among `users`' hashes.

    Checked for an unknown user (and a password too long to check), so that a refusal
    costs the same time whether or not the user exists.
    """
    costs = [int(m["cost"]) for h in users.values() if (m := _BCRYPT_HASH.fullmatch(h.decode()))]
    rounds = min(max(costs, default=10), 31)
    return bcrypt.hashpw(os.urandom(16).hex().encode("ascii"), bcrypt.gensalt(rounds=rounds))


class BasicAuth:
    """WSGI middleware: 401 unless the request carries a listed user and its password.

    A verified header is remembered (its SHA-256, not the password), so a scrape every
    15 s does not pay bcrypt's deliberate cost each time. Every other request pays one
    bcrypt check: against the user's hash, or `dummy_hash` for an unknown user or a
    password over 72 bytes.
    """

    def __init__(self, app: WsgiApp, users: dict[str, bytes]) -> None:
        self._app = app
        self._users = users
        self._dummy = dummy_hash(users)
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def _allowed(self, header: str) -> bool:
        digest = hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            if digest in self._verified:
                return True
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        secret = password.encode("utf-8")
        hashed = self._users.get(user)
        if hashed is None or len(secret) > BCRYPT_MAX_PASSWORD_BYTES:
            _check(b"unknown user or password too long", self._dummy)  # the same work
            return False
        if not _check(secret, hashed):
            return False
        with self._lock:
            self._verified.add(digest)
        return True

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve the wrapped app, or answer 401 with a Basic challenge."""
        if self._allowed(str(environ.get("HTTP_AUTHORIZATION", ""))):
            return self._app(environ, start_response)
        start_response(
            "401 Unauthorized",
            [("WWW-Authenticate", 'Basic realm="finwatt"'), ("Content-Type", "text/plain")],
        )
        return [b"Unauthorized\n"]


def _check(secret: bytes, hashed: bytes) -> bool:
    """`bcrypt.checkpw`, False (never an exception, a 500) for a hash it cannot use."""
    try:
        return bool(bcrypt.checkpw(secret, hashed))
    except ValueError:
        return False


LISTEN_BACKLOG = 256
"""Connections the kernel queues while the server accepts (the standard library's is 5:
46 of 200 simultaneous scrapes timed out with it, docs/decisions.md#hostile-input)."""

REQUEST_TIMEOUT_S = 30.0
"""A client that sends nothing (or stalls its TLS handshake) this long is dropped, so it
cannot hold a request thread for ever."""


class _QuietHandler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing per request (a scrape every few seconds would flood the log)."""


class MetricsHTTPServer(ThreadingWSGIServer):
    """A thread per request (daemon threads), and a listen queue of `LISTEN_BACKLOG`."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a client's failure (a plain-HTTP client on the TLS port) in one line.

        The standard library prints a traceback to stderr for any error of a request's
        thread; a client that breaks off or speaks the wrong protocol is not a bug.
        """
        err = sys.exc_info()[1]
        if not isinstance(err, OSError):  # ssl.SSLError is an OSError; anything else is a bug
            super().handle_error(request, client_address)
            return
        peer = client_address[0] if isinstance(client_address, tuple) else client_address
        what = "TLS handshake" if isinstance(err, ssl.SSLError) else "request"
        reason = getattr(err, "reason", None) or err.strerror or type(err).__name__
        log.warning("exporter: %s from %s failed: %s", what, peer, reason)


class _Server6(MetricsHTTPServer):
    address_family = socket.AF_INET6


def start_server(
    registry: CollectorRegistry, host: str, port: int, config: WebConfig | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Serve `registry` at /metrics in a thread; with `config`, its TLS and basic auth.

    Each request is answered on its own (daemon) thread, so a slow client does not hold
    up the others; the TLS handshake happens on that thread too, not in the accept loop.

    Raises:
        OSError: the address cannot be bound.
        ssl.SSLError: the certificate or key cannot be loaded.
    """
    app: WsgiApp = make_wsgi_app(registry)
    if config is not None and config.users:
        app = BasicAuth(app, config.users)
    context = ssl_context(config) if config is not None and config.tls else None
    server_class = _Server6 if ":" in host else MetricsHTTPServer
    server = make_server(host.strip("[]"), port, app, server_class, handler_class=_QuietHandler)
    if context is not None:
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    thread = threading.Thread(target=server.serve_forever, name="finwatt-metrics", daemon=True)
    thread.start()
    return server, thread

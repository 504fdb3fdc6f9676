"""The exporter's web-config and basic auth against hostile input (a real server on 127.0.0.1).

A web-config that is a FIFO or too large is a one-line error; an unknown user costs the
same bcrypt work as a known one; a password over 72 bytes is a clean 401; a plain-HTTP
client on the TLS port is one log line, no traceback.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from profiler.prometheus import webconfig
from profiler.prometheus.webconfig import (
    BasicAuth,
    WebConfig,
    WebConfigError,
    load_web_config,
    start_server,
)

PASSWORD = "correct horse battery staple"


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(auth: BasicAuth, authorization: str) -> tuple[str, bytes]:
    """Call the middleware as a WSGI server would; return (status, body)."""
    statuses: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"metrics\n"]

    auth._app = app
    body = auth({"HTTP_AUTHORIZATION": authorization}, lambda s, h: statuses.append(s))
    return statuses[0], b"".join(body)


@pytest.fixture(scope="module")
def users() -> dict[str, bytes]:
    return {"prometheus": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5))}


def load_within(path: Path, seconds: float = 5.0) -> BaseException | WebConfig | None:
    """Run `load_web_config` in a thread; None when it did not return in time."""
    outcome: list[BaseException | WebConfig] = []

    def work() -> None:
        try:
            outcome.append(load_web_config(path))
        except BaseException as err:  # noqa: BLE001 - the test inspects it
            outcome.append(err)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else None


def test_a_fifo_as_web_config_is_a_one_line_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "web.yml"
    os.mkfifo(fifo)
    try:
        outcome = load_within(fifo)
    finally:  # release a reader blocked in open() (today's code), if any
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if outcome is None else None
        if fd is not None:
            os.close(fd)
    assert isinstance(outcome, WebConfigError), outcome
    assert "not a regular file (a FIFO)" in str(outcome) and "\n" not in str(outcome)


def test_a_huge_web_config_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "web.yml"
    with big.open("wb") as handle:
        handle.truncate(64 * 2**20)  # sparse: 64 MiB of NUL bytes
    outcome = load_within(big)
    assert isinstance(outcome, WebConfigError), outcome
    assert "larger than 1 MiB" in str(outcome) and "\n" not in str(outcome)


def test_a_malformed_bcrypt_hash_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  prometheus: $2b$10$short\n")
    with pytest.raises(WebConfigError, match="not a bcrypt hash"):
        load_web_config(path)


def test_an_unknown_user_costs_the_same_bcrypt_work_as_a_known_one(
    users: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = BasicAuth(lambda e, s: [], users)
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def counting(secret: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return bool(real(secret, hashed))

    monkeypatch.setattr(webconfig.bcrypt, "checkpw", counting)
    assert call(auth, header("prometheus", "wrong"))[0].startswith("401")
    assert call(auth, header("nobody", "wrong"))[0].startswith("401")
    assert len(checked) == 2
    known, unknown = checked
    assert unknown != known and unknown[:7] == known[:7]  # same algorithm and cost


def test_a_password_over_72_bytes_is_a_clean_401(users: dict[str, bytes]) -> None:
    auth = BasicAuth(lambda e, s: [], users)
    status, body = call(auth, header("prometheus", PASSWORD + "x" * 100))
    assert status.startswith("401") and body == b"Unauthorized\n"
    assert call(auth, header("prometheus", PASSWORD))[0].startswith("200")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[int]:
    key, cert = tmp_path / "server.key", tmp_path / "server.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"openssl: {done.stderr}")
    from prometheus_client.registry import CollectorRegistry

    server, thread = start_server(
        CollectorRegistry(), "127.0.0.1", 0, WebConfig(cert_file=cert, key_file=key)
    )
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_plain_http_client_on_the_tls_port_is_one_log_line(
    tls_server: int,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A handler an earlier test left on a closed stream would print logging's own
    # "--- Logging error ---" traceback: that is not the server's, so keep it quiet.
    monkeypatch.setattr(logging, "raiseExceptions", False)
    with (
        caplog.at_level(logging.WARNING, logger=webconfig.__name__),
        socket.create_connection(("127.0.0.1", tls_server), timeout=5) as plain,
    ):
        plain.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        plain.recv(4096)  # the server ends the connection (an alert or nothing)
    for _ in range(50):
        if caplog.records:
            break
        threading.Event().wait(0.05)
    assert "Traceback" not in capfd.readouterr().err
    [record] = caplog.records
    message = record.getMessage()
    assert "TLS handshake from 127.0.0.1 failed" in message and "\n" not in message

"""Auth and TLS on both ends: a real Prometheus behind TLS and basic auth (its own
`--web.config.file`), scraping the exporter behind TLS and basic auth (`--web-config`, the
same format), read back by `finwatt analyze --prometheus-config`. Certificates come from a
throwaway CA made with the `openssl` command.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from profiler.model.device import DeviceInfo
from profiler.model.samples import Reading, Tick
from profiler.prometheus.api import (
    ClientConfig,
    FleetUsageError,
    PrometheusApi,
    load_client_config,
)
from profiler.prometheus.exporter import FinwattCollector, MetricsServer, make_registry
from profiler.prometheus.webconfig import WebConfigError, load_web_config
from tests.fakes.cli import run_finwatt
from tests.profiler.prometheus.prometheus_harness import free_port, require_prometheus

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def issue(tmp: Path, name: str, ca: Path, ca_key: Path, extension: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (tmp / f"{name}.{s}" for s in ("key", "csr", "pem", "ext"))
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
    ext.write_text(extension + "\n")
    openssl("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(csr))
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    tmp = tmp_path_factory.mktemp("pki")
    ca, ca_key = tmp / "ca.pem", tmp / "ca.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", str(ca_key), "-out", str(ca),
    )  # fmt: skip
    server = issue(tmp, "server", ca, ca_key, "subjectAltName=IP:127.0.0.1")
    client = issue(tmp, "client", ca, ca_key, "extendedKeyUsage=clientAuth")
    return Pki(ca, *server, *client)


def web_config(tmp: Path, pki: Pki, *, mutual: bool) -> Path:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    lines = [
        "tls_server_config:",
        f"  cert_file: {pki.server_cert}",
        f"  key_file: {pki.server_key}",
    ]
    if mutual:
        lines += [f"  client_ca_file: {pki.ca}", "  client_auth_type: RequireAndVerifyClientCert"]
    lines += ["basic_auth_users:", f"  finwatt: {hashed}"]
    path = tmp / ("web-mutual.yml" if mutual else "web.yml")
    path.write_text("\n".join(lines) + "\n")
    return path


def get(url: str, context: ssl.SSLContext, password: str | None) -> int:
    headers = {}
    if password is not None:
        pair = base64.b64encode(f"finwatt:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def secured(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The exporter (TLS + basic auth) scraped by Prometheus (mutual TLS + basic auth)."""
    binary, _ = require_prometheus()
    tmp = tmp_path_factory.mktemp("secured")
    devices = [
        DeviceInfo("host", "host", model="Xeon", logical_cores=8),
        DeviceInfo("cpu:0", "cpu", model="Xeon", provenance="measured:rapl"),
    ]
    collector = FinwattCollector(devices, "test")
    cpu = Reading("cpu:0", power_w=50.0, energy_j=100.0)
    collector.observe(Tick(0, 0.0, {"host": Reading("host", util=0.5), "cpu:0": cpu}, 0))
    exporter = MetricsServer(
        make_registry(collector),
        "127.0.0.1",
        0,
        load_web_config(web_config(tmp, pki, mutual=False)),
    )
    password_file = tmp / "password"
    password_file.write_text(PASSWORD + "\n")
    port = free_port()
    (tmp / "prometheus.yml").write_text(
        "\n".join(
            [
                "global: {scrape_interval: 1s, scrape_timeout: 1s}",
                "scrape_configs:",
                "  - job_name: finwatt",
                "    scheme: https",
                f"    tls_config: {{ca_file: {pki.ca}}}",
                f"    basic_auth: {{username: finwatt, password_file: {password_file}}}",
                f"    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]",
            ]
        )
        + "\n"
    )
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.config.file={web_config(tmp, pki, mutual=True)}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = tmp / "client.yml"
    client.write_text(
        "\n".join(
            [
                f"basic_auth: {{username: finwatt, password_file: {password_file}}}",
                "tls_config:",
                f"  ca_file: {pki.ca}",
                f"  cert_file: {pki.client_cert}",
                f"  key_file: {pki.client_key}",
            ]
        )
        + "\n"
    )
    url = f"https://127.0.0.1:{port}"
    try:
        api = PrometheusApi(url, config=load_client_config(client))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                # two scrapes: a range read ending at the last whole second then sees one
                if api.query("count_over_time(finwatt_device_info[1m]) >= 2", time.time()):
                    break
            except Exception:  # noqa: BLE001 (starting up: refused, not ready yet)
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"never scraped: {(tmp / 'prometheus.log').read_text()[-2000:]}")
        yield {"url": url, "client": client, "exporter": exporter, "tmp": tmp}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        exporter.close()


def test_exporter_refuses_without_credentials(secured: dict[str, object], pki: Pki) -> None:
    exporter = secured["exporter"]
    assert isinstance(exporter, MetricsServer) and exporter.scheme == "https"
    context = ssl.create_default_context(cafile=str(pki.ca))
    url = f"https://127.0.0.1:{exporter.port}/metrics"
    assert get(url, context, None) == 401
    assert get(url, context, "wrong") == 401
    assert get(url, context, PASSWORD) == 200


def test_analyze_reads_prometheus_behind_mutual_tls_and_basic_auth(
    secured: dict[str, object],
) -> None:
    url, client = str(secured["url"]), str(secured["client"])
    args = ("analyze", "--prometheus", url, "--since", "10m", "--step", "1s", "--json")
    result = run_finwatt(*args, "--prometheus-config", client, timeout=120)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)["metrics"]["hosts"]) == {
        f"127.0.0.1:{secured['exporter'].port}"  # type: ignore[attr-defined]
    }
    # the same file through the environment, as a systemd unit would set it
    by_env = run_finwatt(*args, env={"FINWATT_PROMETHEUS_CONFIG": client}, timeout=120)
    assert by_env.returncode == 0, by_env.stderr
    # no client config: the server's certificate is not trusted -> exit 1, one line
    refused = run_finwatt(*args, timeout=120)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr or "certificate" in refused.stderr


def test_fleet_chargeback_reads_prometheus_behind_the_same_client_config(
    secured: dict[str, object],
) -> None:
    url, client = str(secured["url"]), str(secured["client"])
    args = ("chargeback", "--prometheus", url, "--since", "10m", "--by", "host", "--json")
    result = run_finwatt(*args, "--prometheus-config", client, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["host_sources"] == {"prometheus": 1}
    refused = run_finwatt(*args, timeout=120)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1


def test_wrong_password_is_exit_1_with_the_server_reason(
    secured: dict[str, object], tmp_path: Path
) -> None:
    good = Path(str(secured["client"])).read_text()
    wrong_password = tmp_path / "wrong"
    wrong_password.write_text("nope\n")
    text = good.replace(str(Path(str(secured["tmp"])) / "password"), str(wrong_password))
    config = tmp_path / "client.yml"
    config.write_text(text)
    result = run_finwatt(
        "analyze", "--prometheus", str(secured["url"]), "--prometheus-config", str(config)
    )
    assert result.returncode == 1 and "401" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("basic_auth: {username: u, password: secret}\n", "password_file"),
        ("authorization: {credentials: abc}\n", "credentials_file"),
        ("tls_config: {ca_file: /nonexistent/ca.pem}\n", "does not exist"),
        ("proxy_url: http://x\n", "unknown section"),
    ],
)
def test_bad_client_config_is_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "client.yml"
    config.write_text(text)
    with pytest.raises(FleetUsageError, match=needle):
        load_client_config(config)
    result = run_finwatt(
        "analyze", "--prometheus", "http://127.0.0.1:1", "--prometheus-config", str(config)
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert needle in result.stderr


def test_bearer_token_is_read_from_its_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t\n")
    sent: list[str | None] = []

    class Answer:
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b'{"status": "success", "data": {"result": []}}'

    def urlopen(request: urllib.request.Request, timeout: float) -> Answer:
        sent.append(request.get_header("Authorization"))
        return Answer()

    config = ClientConfig(bearer_token_file=token)
    PrometheusApi("http://prom:9090", config=config, urlopen=urlopen).query("up", 0.0)
    assert sent == ["Bearer s3cr3t"]


def test_plain_password_in_web_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  prometheus: hunter2\n")
    with pytest.raises(WebConfigError, match="bcrypt"):
        load_web_config(path)
    result = run_finwatt("serve", "--web-config", str(path), "--port", "0", timeout=60)
    assert result.returncode == 2 and "bcrypt" in result.stderr, result.stderr

"""`[bmc]` in config.toml: validated with one-line messages, resolved into a `BmcConfig`."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from profiler.sensors.bmc.config import DEFAULT_PASSWORD_ENV, BmcConfig, Credentials
from profiler.settings.config import config_problems, load_settings, use_config_file

GOOD = """\
[bmc]
ipmi_host = "10.1.2.3"
ipmi_user = "finwatt"
ipmi_password_file = "/etc/finwatt/ipmi.pw"
ipmi_cipher_suite = 17
ipmi_sensors = ["PS1 Input Power", "PS2 Input Power"]
redfish_url = "https://bmc.example"
redfish_user = "finwatt"
redfish_password_env = "BMC_PW"
redfish_ca_bundle = "/etc/finwatt/bmc-ca.pem"
poll_interval_s = 2
timeout_s = 3.5
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("FINWATT_CONFIG", raising=False)
    yield
    use_config_file(None)


def test_a_full_bmc_table_resolves_into_the_sensor_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(GOOD)
    use_config_file(config)
    bmc = BmcConfig.from_values(load_settings(tmp_path / "f.db").bmc)
    assert (bmc.ipmi_host, bmc.ipmi_port, bmc.ipmi_cipher_suite) == ("10.1.2.3", 623, 17)
    assert bmc.ipmi_credentials == Credentials(
        "finwatt", Path("/etc/finwatt/ipmi.pw"), DEFAULT_PASSWORD_ENV
    )
    assert bmc.ipmi_sensors == ("PS1 Input Power", "PS2 Input Power")
    assert bmc.redfish_credentials == Credentials("finwatt", None, "BMC_PW")
    assert bmc.redfish_ca_bundle == Path("/etc/finwatt/bmc-ca.pem")
    assert bmc.redfish_verify_tls is True
    assert (bmc.poll_interval_s, bmc.timeout_s) == (2, 3.5)


def test_no_bmc_table_means_in_band_ipmi_only() -> None:
    bmc = BmcConfig.from_values({})
    assert bmc.ipmi_enabled and bmc.ipmi_host is None and bmc.redfish_url is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('ipmi_pasword = "x"', "[bmc] unknown key 'ipmi_pasword'; allowed: ipmi, ipmi_host"),
        ('redfish_url = "ftp://bmc"', "[bmc] redfish_url: 'ftp://bmc' is not a service URL"),
        ("poll_interval_s = 0.01", "[bmc] poll_interval_s: input should be greater than"),
        ('ipmi = "on"', "[bmc] ipmi: input should be 'auto' or 'off'"),
        ("redfish_verify_tls = 0", "[bmc] redfish_verify_tls: input should be a valid boolean"),
    ],
)
def test_a_bad_bmc_key_is_one_line_naming_table_and_key(line: str, message: str) -> None:
    document = tomllib.loads(f"[bmc]\n{line}\n")
    problems, valid = config_problems(Path("/etc/finwatt/config.toml"), document)
    assert valid is None and len(problems) == 1
    assert problems[0].startswith("/etc/finwatt/config.toml: [bmc] ")
    assert message in problems[0]


def test_a_password_is_never_a_setting() -> None:
    problems, _ = config_problems(Path("c.toml"), {"bmc": {"ipmi_password": "hunter2"}})
    assert problems and "unknown key 'ipmi_password'" in problems[0]


def test_bmc_files_are_relative_to_the_config_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "etc" / "finwatt"
    site.mkdir(parents=True)
    (site / "bmc.pw").write_text("s3cret\n")
    config = site / "config.toml"
    config.write_text(
        "[bmc]\n"
        'redfish_url = "https://bmc.example"\n'
        'redfish_password_file = "bmc.pw"\n'
        'redfish_ca_bundle = "certs/bmc-ca.pem"\n'
        'ipmi_password_file = "/abs/ipmi.pw"\n'
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory plays no part
    use_config_file(config)
    bmc = BmcConfig.from_values(load_settings(tmp_path / "f.db").bmc)
    assert bmc.redfish_credentials.password_file == site / "bmc.pw"
    assert bmc.redfish_credentials.password() == "s3cret"
    assert bmc.redfish_ca_bundle == site / "certs" / "bmc-ca.pem"
    assert bmc.ipmi_credentials.password_file == Path("/abs/ipmi.pw")


def test_a_relative_config_path_still_resolves_bmc_files_absolutely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    document = tomllib.loads('[bmc]\nredfish_ca_bundle = "ca.pem"\n')
    problems, valid = config_problems(Path("conf/config.toml"), document)
    assert problems == [] and valid is not None
    assert valid.values["bmc"]["redfish_ca_bundle"] == str(tmp_path / "conf" / "ca.pem")

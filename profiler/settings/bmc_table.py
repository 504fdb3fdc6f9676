"""`[bmc]` of config.toml: how finwatt reaches the node's BMC (docs/decisions.md#bmc-and-perf).

Example (out of band; the password in a file only the finwatt user can read)::

    [bmc]
    redfish_url = "https://bmc-ldn-042.example"
    redfish_user = "finwatt"
    redfish_password_file = "/etc/finwatt/bmc.pw"
    redfish_ca_bundle = "bmc-ca.pem"            # relative: next to this config file

With no `[bmc]`, IPMI is tried in-band (`/dev/ipmi0`) where it exists. Passwords never
go in this file nor on a command line: `*_password_file`, or the environment variable
named by `*_password_env` (default `FINWATT_BMC_PASSWORD`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_STRICT = ConfigDict(
    extra="forbid", strict=True, allow_inf_nan=False, title="[bmc]", validate_default=True
)

_Name = Annotated[str, Field(min_length=1)]


#: A file setting: absolute, `~/...`, or relative to the config file's directory (like
#: `carbon_table`; `profiler.settings.config` resolves it, never against the working
#: directory, which a daemon's is not the user's).
_File = Annotated[str, Field(min_length=1)]
_URL = re.compile(r"https?://[^/\s?#@]+(/\S*)?")
"""http(s), a host (no user:password@ in it: credentials come from a file or variable)."""


def _service_url(url: str) -> str:
    if not _URL.fullmatch(url):
        raise ValueError(
            f"{url!r} is not a service URL; write https://<bmc host>[:port] (no spaces, "
            "no user:password@: use redfish_user and redfish_password_file)"
        )
    return url


class BmcTable(BaseModel):
    """`[bmc]`: IPMI (ipmitool, in-band or lanplus) and Redfish (HTTPS) settings."""

    model_config = _STRICT

    ipmi: Literal["auto", "off"] = Field(
        "auto", description='"auto": in-band /dev/ipmi0, or lanplus when ipmi_host is set.'
    )
    ipmi_host: _Name | None = Field(None, description="BMC address for IPMI over LAN (lanplus).")
    ipmi_port: Annotated[int, Field(ge=1, le=65535)] = Field(623, description="RMCP+ UDP port.")
    ipmi_user: _Name | None = Field(None, description="BMC account for lanplus.")
    ipmi_password_file: _File | None = Field(
        None, description="File holding the password (relative to this file, or absolute)."
    )
    ipmi_password_env: _Name | None = Field(
        None, description="Variable holding the password (default FINWATT_BMC_PASSWORD)."
    )
    ipmi_cipher_suite: Annotated[int, Field(ge=0, le=17)] | None = Field(
        None, description="ipmitool -C (default: ipmitool's choice)."
    )
    ipmi_sensors: list[_Name] = Field(
        default_factory=list,
        description="SDR sensors in watts summed into the node's power (default: the total).",
    )
    redfish_url: Annotated[str, AfterValidator(_service_url)] | None = Field(
        None, description="The Redfish service, https://<bmc>."
    )
    redfish_user: _Name | None = Field(None, description="Redfish account.")
    redfish_password_file: _File | None = Field(
        None, description="File holding the password (relative to this file, or absolute)."
    )
    redfish_password_env: _Name | None = Field(
        None, description="Variable holding the password (default FINWATT_BMC_PASSWORD)."
    )
    redfish_ca_bundle: _File | None = Field(
        None, description="CA file verifying the BMC (relative to this file, or absolute)."
    )
    redfish_verify_tls: bool = Field(True, description="Verify the certificate (keep true).")
    redfish_chassis: _Name | None = Field(None, description="Chassis id (default: the first).")
    poll_interval_s: Annotated[float, Field(ge=0.1, le=60)] = Field(
        1.0, description="Shortest gap between BMC polls in s (a longer BMC window wins)."
    )
    timeout_s: Annotated[float, Field(gt=0, le=60)] = Field(
        5.0, description="Deadline of one BMC poll in s."
    )


BMC_KEYS = tuple(BmcTable.model_fields)

#: The `[bmc]` keys naming files, resolved relative to the config file's directory.
BMC_PATH_KEYS = ("ipmi_password_file", "redfish_password_file", "redfish_ca_bundle")

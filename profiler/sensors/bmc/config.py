"""What finwatt needs to reach a BMC, and where its passwords come from.

The `[bmc]` table of config.toml (validated by `profiler.settings.config_model.BmcTable`)
becomes one `BmcConfig`. Passwords never travel on a command line (where `ps` shows
them): each comes from a file (`*_password_file`, read when a poll needs it) or from an
environment variable named by `*_password_env` (default `FINWATT_BMC_PASSWORD`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.files.small_files import SmallFileError, read_small_text
from profiler.model.errors import FinwattInputError

DEFAULT_PASSWORD_ENV = "FINWATT_BMC_PASSWORD"
DEFAULT_POLL_INTERVAL_S = 1.0
DEFAULT_TIMEOUT_S = 5.0
IPMI_LAN_PORT = 623
PASSWORD_FILE_MAX_BYTES = 4096
"""A password file holds one line; a larger file is refused, not read."""


class BmcConfigError(FinwattInputError):
    """A `[bmc]` setting cannot be used (a password file missing, a variable unset)."""


@dataclass(frozen=True)
class Credentials:
    """A user name and where the password comes from (a file wins over a variable).

    Attributes:
        user: the BMC account.
        password_file: a file holding the password (first line).
        password_env: the environment variable holding it.

    """

    user: str | None = None
    password_file: Path | None = None
    password_env: str = DEFAULT_PASSWORD_ENV

    def password(self) -> str:
        """Return the password from the file, else the environment variable.

        Raises:
            BmcConfigError: the file cannot be read or the variable is unset (the
                message names which and never shows a password).

        """
        if self.password_file is not None:
            try:  # a FIFO, a device or a binary file must not hang or crash a poll
                text = read_small_text(self.password_file, max_bytes=PASSWORD_FILE_MAX_BYTES)
            except SmallFileError as err:
                raise BmcConfigError(
                    f"cannot read the BMC password file {self.password_file} "
                    f"({err}); fix the path or its permissions"
                ) from err
            lines = text.splitlines()
            if not lines or not lines[0]:
                raise BmcConfigError(
                    f"the BMC password file {self.password_file} is empty; write the "
                    "password on its first line"
                )
            return lines[0]
        value = os.environ.get(self.password_env)
        if value is None:
            raise BmcConfigError(
                f"no BMC password: set ${self.password_env} or [bmc] *_password_file"
            )
        return value


@dataclass(frozen=True)
class BmcConfig:
    """The resolved `[bmc]` table; see `profiler.settings.config_model.BmcTable`.

    Attributes:
        ipmi_enabled: probe IPMI at all (in-band when no host is given).
        ipmi_host: the BMC's address for IPMI over LAN (lanplus); None means in-band.
        ipmi_port: its UDP port.
        ipmi_credentials: account and password source for lanplus.
        ipmi_cipher_suite: ipmitool `-C` (None: ipmitool's own choice).
        ipmi_sensors: SDR sensor names (unit watts) whose sum is the node's power.
        redfish_url: the service's base URL (`https://bmc.example`); None: no Redfish.
        redfish_credentials: account and password source for Redfish.
        redfish_ca_bundle: CA file that verifies the service's certificate.
        redfish_verify_tls: False only when the user turned verification off.
        redfish_chassis: the chassis id to read (None: the first with power data).
        poll_interval_s: the shortest gap between BMC polls; a BMC that reports a longer
            averaging window is polled at its window.
        timeout_s: the deadline of one poll.
        ipmitool: the ipmitool binary.
        dev_root: where `/dev/ipmi0` is looked for (tests point it elsewhere).

    """

    ipmi_enabled: bool = True
    ipmi_host: str | None = None
    ipmi_port: int = IPMI_LAN_PORT
    ipmi_credentials: Credentials = field(default_factory=Credentials)
    ipmi_cipher_suite: int | None = None
    ipmi_sensors: tuple[str, ...] = ()
    redfish_url: str | None = None
    redfish_credentials: Credentials = field(default_factory=Credentials)
    redfish_ca_bundle: Path | None = None
    redfish_verify_tls: bool = True
    redfish_chassis: str | None = None
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    ipmitool: str = "ipmitool"
    dev_root: Path = Path("/dev")

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> BmcConfig:
        """Build the config from the validated `[bmc]` table (keys as in config.toml)."""

        def path(key: str) -> Path | None:
            raw = values.get(key)
            return Path(raw) if raw else None

        def credentials(prefix: str) -> Credentials:
            return Credentials(
                values.get(f"{prefix}_user"),
                path(f"{prefix}_password_file"),
                values.get(f"{prefix}_password_env") or DEFAULT_PASSWORD_ENV,
            )

        return cls(
            ipmi_enabled=values.get("ipmi", "auto") != "off",
            ipmi_host=values.get("ipmi_host"),
            ipmi_port=values.get("ipmi_port", IPMI_LAN_PORT),
            ipmi_credentials=credentials("ipmi"),
            ipmi_cipher_suite=values.get("ipmi_cipher_suite"),
            ipmi_sensors=tuple(values.get("ipmi_sensors", ())),
            redfish_url=values.get("redfish_url"),
            redfish_credentials=credentials("redfish"),
            redfish_ca_bundle=path("redfish_ca_bundle"),
            redfish_verify_tls=values.get("redfish_verify_tls", True),
            redfish_chassis=values.get("redfish_chassis"),
            poll_interval_s=values.get("poll_interval_s", DEFAULT_POLL_INTERVAL_S),
            timeout_s=values.get("timeout_s", DEFAULT_TIMEOUT_S),
            ipmitool=values.get("ipmitool", "ipmitool"),
        )

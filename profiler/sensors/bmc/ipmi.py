"""Wall power of the node from its BMC over IPMI: DCMI power reading, else SDR watt sensors.

Source: `ipmitool` run as a subprocess (an argument list, never a shell), in-band through
`/dev/ipmi0` (`-I open`) or out of band over RMCP+ (`-I lanplus`). The password never
appears on the command line: `-f FILE` (`[bmc] ipmi_password_file`) or `-E`, which reads
`IPMI_PASSWORD` from the environment finwatt gives the child (copied from
`$FINWATT_BMC_PASSWORD`, or the variable `ipmi_password_env` names). Check by hand:
`ipmitool dcmi power reading` (in-band, as root) or
`IPMI_PASSWORD=... ipmitool -I lanplus -H BMC -U USER -E dcmi power reading`.

Order: DCMI `Get Power Reading` (provenance `measured:ipmi-dcmi`) gives the BMC's average
over its sampling period, which is then the polling cadence and the recorded averaging
window (a period above a minute, or none, falls back to the instantaneous figure). A BMC
without DCMI (ipmitool says "Invalid command") is read from its SDR sensors whose unit is
watts (`measured:ipmi-sdr`): the ones named in `[bmc] ipmi_sensors` (summed), else the
only one, else the one whose name says total / system / consumption. Each poll is bounded
by `[bmc] timeout_s`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.model.provenance import Provenance
from profiler.sensors.base import Availability, FamilyState, SensorError
from profiler.sensors.bmc.config import BmcConfig, BmcConfigError
from profiler.sensors.bmc.poller import MAX_CADENCE_S, Discovery, PowerSample

MEASURED_IPMI_DCMI = Provenance("measured:ipmi-dcmi")
MEASURED_IPMI_SDR = Provenance("measured:ipmi-sdr")

#: The deadline of the one-off SDR walk at discovery, in seconds (real BMCs are slow).
SDR_WALK_TIMEOUT_S = 30.0

#: Device nodes of the in-band interface, in ipmitool's own search order.
DEVICE_NODES = ("ipmi0", "ipmi/0", "ipmidev/0")

#: The fix shown when `/dev/ipmi0` exists but this user cannot open it.
DEVICE_PERMISSION_FIX = (
    'run as root, or give a group access: udev rule KERNEL=="ipmi*", GROUP="finwatt", '
    'MODE="0660" (docs/permissions.md)'
)
_NO_DEVICE_FIX = (
    "load the in-band driver (modprobe ipmi_devintf ipmi_si), or read the BMC over the "
    "network: [bmc] ipmi_host, ipmi_user and ipmi_password_file"
)
_TOTAL_NAME = re.compile(r"total|system|sys\b|consum|platform|node", re.IGNORECASE)
_DCMI_FIELD = re.compile(r"^\s*(?P<key>[A-Za-z ]+?)\s*:\s*(?P<value>.+?)\s*$")

#: Runs one ipmitool command: (argv, extra environment, deadline in s) -> completed process.
Runner = Callable[[list[str], dict[str, str], float], "subprocess.CompletedProcess[str]"]


def run_ipmitool(
    argv: list[str], env: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """Run ipmitool without a shell, with `env` added, killed at the deadline."""
    return subprocess.run(  # an argument list from settings, no shell
        argv,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **env},
        check=False,
    )


@dataclass(frozen=True)
class DcmiReading:
    """The fields of `ipmitool dcmi power reading` finwatt uses.

    Attributes:
        instantaneous_w: the instantaneous reading in watts.
        average_w: the average over the sampling period in watts.
        sampling_period_s: the period in seconds (0 when the BMC gives none).
        active: "Power reading state is: activated".

    """

    instantaneous_w: float
    average_w: float | None
    sampling_period_s: float
    active: bool

    def sample(self) -> PowerSample:
        """The figure to use: the period's average when the period is usable."""
        if self.average_w is not None and 0 < self.sampling_period_s <= MAX_CADENCE_S:
            return PowerSample(self.average_w, self.sampling_period_s)
        return PowerSample(self.instantaneous_w, None)


def parse_dcmi(text: str) -> DcmiReading | None:
    """Parse `ipmitool dcmi power reading`; None when it holds no instantaneous figure."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _DCMI_FIELD.match(line)
        if match:
            fields[match["key"].lower()] = match["value"]

    def watts(key: str) -> float | None:
        found = re.match(r"(\d+(?:\.\d+)?)\s*Watts", fields.get(key, ""))
        return float(found[1]) if found else None

    instantaneous_w = watts("instantaneous power reading")
    if instantaneous_w is None:
        return None
    period = re.match(r"(\d+)\s*(Seconds|Milliseconds)", fields.get("sampling period", ""))
    period_s = 0.0
    if period:
        period_s = float(period[1]) / (1000.0 if period[2] == "Milliseconds" else 1.0)
    return DcmiReading(
        instantaneous_w,
        watts("average power reading over sample period"),
        period_s,
        fields.get("power reading state is", "").startswith("activated"),
    )


def watt_sensors(csv_text: str) -> dict[str, float | None]:
    """Map each SDR sensor whose unit is watts to its value (`ipmitool -c sdr elist full`).

    A sensor with no reading ("na", "disabled") maps to None.
    """
    sensors: dict[str, float | None] = {}
    for line in csv_text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) >= 3 and parts[2].lower() == "watts":
            try:
                sensors[parts[0]] = float(parts[1])
            except ValueError:
                sensors[parts[0]] = None
    return sensors


def choose_sensors(
    sensors: dict[str, float | None], named: Sequence[str]
) -> tuple[tuple[str, ...], str | None]:
    """Pick the watt sensors that make the node's power; return (names, problem).

    `named` (from `[bmc] ipmi_sensors`) wins; otherwise the only sensor, or the one whose
    name says total/system/consumption. The problem is one line with the fix, or None.
    """
    if named:
        missing = [name for name in named if name not in sensors]
        if missing:
            listed = ", ".join(sorted(sensors)) or "none"
            return (), f"[bmc] ipmi_sensors names {missing} not among the watt sensors: {listed}"
        return tuple(named), None
    readable = [name for name, value in sensors.items() if value is not None]
    if len(readable) == 1:
        return (readable[0],), None
    totals = [name for name in readable if _TOTAL_NAME.search(name)]
    if len(totals) == 1:
        return (totals[0],), None
    if not readable:
        return (), "the BMC has no readable SDR sensor in watts"
    return (), (
        f"several watt sensors ({', '.join(readable)}); name the node's total in "
        "[bmc] ipmi_sensors (a list; they are summed)"
    )


class IpmiSource:
    """The node's power from ipmitool, in-band or over lanplus (a `BmcSource`).

    Args:
        config: the `[bmc]` settings.
        runner: runs ipmitool; `run_ipmitool` in production.
        which: finds the binary; `shutil.which` in production.
        access: `os.access`; tests (which run as root) inject a refusal.

    """

    name = "ipmi"

    def __init__(
        self,
        config: BmcConfig,
        runner: Runner = run_ipmitool,
        which: Callable[[str], str | None] = shutil.which,
        access: Callable[[Path, int], bool] = os.access,
    ) -> None:
        self._config = config
        self._runner = runner
        self._which = which
        self._access = access
        self._sensors: tuple[str, ...] = ()
        self._provenance: str | None = None
        self._cache_dir: Path | None = None
        self._sdr_cache: Path | None = None

    @property
    def out_of_band(self) -> bool:
        """True when the BMC is reached over the network (lanplus)."""
        return self._config.ipmi_host is not None

    def discover(self) -> Discovery:
        """Find the BMC and a power figure: DCMI first, else SDR watt sensors."""
        problem = self._access_problem()
        if problem is not None:
            return Discovery(problem)
        try:
            dcmi = self._run("dcmi", "power", "reading", allow_failure=True)
        except SensorError as err:
            return Discovery(self._unreadable(str(err)))
        reading = parse_dcmi(dcmi.stdout) if dcmi.returncode == 0 else None
        if reading is not None and reading.instantaneous_w > 0:
            self._provenance = MEASURED_IPMI_DCMI
            sample = reading.sample()
            details = self._details() | {
                "method": "DCMI Get Power Reading",
                "dcmi_sampling_period_s": reading.sampling_period_s,
                "dcmi_state": "activated" if reading.active else "deactivated",
            }
            return Discovery(self._found("DCMI power reading"), self._provenance, sample, details)
        return self._discover_sdr(dcmi)

    def fetch(self) -> PowerSample:
        """Return the node's power now (one ipmitool call within the deadline).

        Raises:
            SensorError: ipmitool failed, timed out or printed no figure.

        """
        if self._provenance == MEASURED_IPMI_DCMI:
            reading = parse_dcmi(self._run("dcmi", "power", "reading").stdout)
            if reading is None:
                raise SensorError("ipmitool dcmi power reading printed no power figure")
            return reading.sample()
        done = self._run("sensor", "reading", *self._sensors, csv=True)
        values: dict[str, float] = {}
        for line in done.stdout.splitlines():
            name, _, value = line.rpartition(",")
            try:
                values[name.strip()] = float(value)
            except ValueError:
                continue
        missing = [name for name in self._sensors if name not in values]
        if missing:
            raise SensorError(f"ipmitool sensor reading gave no value for {missing}")
        return PowerSample(sum(values[name] for name in self._sensors))

    def close(self) -> None:
        """Remove the SDR cache (each poll is its own ipmitool process; nothing else held)."""
        if self._cache_dir is not None:
            shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._cache_dir, self._sdr_cache = None, None

    def _discover_sdr(self, dcmi: subprocess.CompletedProcess[str]) -> Discovery:
        # Walking a BMC's SDR repository takes seconds on real hardware: allow more than a
        # poll's deadline once, and keep a local copy (`-S`) so polls do not walk it again.
        slow_s = max(self._config.timeout_s, SDR_WALK_TIMEOUT_S)
        try:
            sdr = self._run("sdr", "elist", "full", csv=True, timeout_s=slow_s)
        except SensorError as err:
            return Discovery(self._unreadable(str(err)))
        names, problem = choose_sensors(watt_sensors(sdr.stdout), self._config.ipmi_sensors)
        if problem is not None:
            dcmi_said = _first_line(dcmi.stderr or dcmi.stdout) or "no figure"
            return Discovery(
                Availability(
                    self.name,
                    FamilyState.NOT_FOUND,
                    f"no DCMI power reading ({dcmi_said}) and {problem}",
                    "set [bmc] ipmi_sensors to the node's input-power sensor(s)",
                )
            )
        self._sensors, self._provenance = names, MEASURED_IPMI_SDR
        self._cache_sdr(slow_s)
        try:
            sample = self.fetch()
        except SensorError as err:
            return Discovery(self._unreadable(str(err)))
        details = self._details() | {"method": "SDR sensors in watts", "sensors": list(names)}
        reason = f"SDR sensor(s) {', '.join(names)}"
        return Discovery(self._found(reason), self._provenance, sample, details)

    def _cache_sdr(self, timeout_s: float) -> None:
        """Dump the SDR to a private file for `-S`; without it, polls walk the SDR."""
        self._cache_dir = Path(tempfile.mkdtemp(prefix="finwatt-sdr-"))
        cache = self._cache_dir / "sdr.cache"
        try:
            done = self._run("sdr", "dump", str(cache), allow_failure=True, timeout_s=timeout_s)
        except SensorError:
            return
        if done.returncode == 0 and cache.is_file():
            self._sdr_cache = cache

    def _access_problem(self) -> Availability | None:
        """Return why ipmitool cannot be used at all, or None."""
        config = self._config
        if not config.ipmi_enabled:
            return Availability(self.name, FamilyState.NOT_FOUND, 'turned off ([bmc] ipmi = "off")')
        if self._which(config.ipmitool) is None:
            return Availability(
                self.name,
                FamilyState.NOT_FOUND,
                f"{config.ipmitool} is not installed",
                "install it (apt install ipmitool / dnf install ipmitool)",
            )
        if self.out_of_band:
            if not config.ipmi_credentials.user:
                return self._unreadable(
                    "no [bmc] ipmi_user for the BMC at " + str(config.ipmi_host)
                )
            try:
                self._password_args()
            except BmcConfigError as err:
                return self._unreadable(str(err))
            return None
        node = device_node(config.dev_root)
        if node is None:
            return Availability(
                self.name,
                FamilyState.NOT_FOUND,
                f"no in-band BMC device ({config.dev_root / DEVICE_NODES[0]}) and no "
                "[bmc] ipmi_host",
                _NO_DEVICE_FIX,
            )
        if not self._access(node, os.R_OK | os.W_OK):
            return Availability(
                self.name, FamilyState.NOT_READABLE, f"not readable: {node}", DEVICE_PERMISSION_FIX
            )
        return None

    def _password_args(self) -> tuple[list[str], dict[str, str]]:
        credentials = self._config.ipmi_credentials
        if credentials.password_file is not None:
            if not credentials.password_file.is_file():
                raise BmcConfigError(
                    f"the BMC password file {credentials.password_file} does not exist"
                )
            return ["-f", str(credentials.password_file)], {}
        return ["-E"], {"IPMI_PASSWORD": credentials.password()}

    def _argv(self, args: Sequence[str], *, csv: bool) -> tuple[list[str], dict[str, str]]:
        config = self._config
        argv = [config.ipmitool]
        env: dict[str, str] = {}
        if self.out_of_band:
            assert config.ipmi_host is not None
            secret, env = self._password_args()
            argv += ["-I", "lanplus", "-H", config.ipmi_host, "-p", str(config.ipmi_port)]
            argv += ["-U", config.ipmi_credentials.user or "", *secret]
            argv += ["-N", str(max(1, int(config.timeout_s / 2))), "-R", "1"]
            if config.ipmi_cipher_suite is not None:
                argv += ["-C", str(config.ipmi_cipher_suite)]
        else:
            argv += ["-I", "open"]
        if self._sdr_cache is not None:
            argv += ["-S", str(self._sdr_cache)]
        return [*argv, *(["-c"] if csv else []), *args], env

    def _run(
        self,
        *args: str,
        allow_failure: bool = False,
        csv: bool = False,
        timeout_s: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv, env = self._argv(args, csv=csv)
        deadline_s = timeout_s or self._config.timeout_s
        try:
            done = self._runner(argv, env, deadline_s)
        except subprocess.TimeoutExpired as err:
            raise SensorError(
                f"ipmitool {' '.join(args)} gave no answer within {deadline_s:g} s "
                "([bmc] timeout_s)"
            ) from err
        except OSError as err:
            raise SensorError(f"cannot run {argv[0]}: {err.strerror or err}") from err
        if done.returncode != 0 and not allow_failure:
            said = _first_line(done.stderr) or _first_line(done.stdout) or "no message"
            raise SensorError(f"ipmitool {' '.join(args)} failed: {said}")
        return done

    def _where(self) -> str:
        if self.out_of_band:
            return f"lanplus {self._config.ipmi_host}:{self._config.ipmi_port}"
        return "in-band (/dev/ipmi0)"

    def _details(self) -> dict[str, object]:
        return {"source": f"ipmitool, {self._where()}", "bmc_firmware": self._firmware()}

    def _firmware(self) -> str | None:
        """The BMC's firmware revision from `mc info` (for the run's inventory), or None."""
        try:
            done = self._run("mc", "info", allow_failure=True)
        except SensorError:
            return None
        match = re.search(r"^Firmware Revision\s*:\s*(\S+)", done.stdout, re.MULTILINE)
        return match[1] if match else None

    def _found(self, what: str) -> Availability:
        return Availability(self.name, FamilyState.FOUND, f"{what}, {self._where()}")

    def _unreadable(self, why: str) -> Availability:
        fix = (
            "check [bmc] ipmi_host, ipmi_user and the password (file or variable), and that "
            "IPMI over LAN is enabled on the BMC"
            if self.out_of_band
            else DEVICE_PERMISSION_FIX
        )
        return Availability(self.name, FamilyState.NOT_READABLE, f"{self._where()}: {why}", fix)


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def device_node(dev_root: Path) -> Path | None:
    """Return the first in-band IPMI device node under `dev_root`, or None."""
    for node in DEVICE_NODES:
        if (dev_root / node).exists():
            return dev_root / node
    return None

"""OpenIPMI's `ipmi_sim` on 127.0.0.1: a real BMC over RMCP+ with one watt sensor fed from a file.

The sensor ("Sys Power", unit watts, reading = 2 x raw) is described in
`data/ipmi_sim/power.sdrs`, compiled with `sdrcomp` into the simulator's persistent
SDR; `ipmi_sim` polls the file every 20 ms (`div=2`: the file holds watts). The BMC has
no DCMI, so finwatt falls back to the SDR path, as on many real BMCs.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.tools import free_port, require_tools, stop_process

SDRS = Path(__file__).parent / "data" / "ipmi_sim" / "power.sdrs"
USER = "finwatt"
PASSWORD = "not-in-argv-42"  # IPMI 1.5 passwords: at most 16 bytes
CIPHER_SUITE = 3  # ipmi_sim offers suite 3; naming it skips ipmitool's 10 s suite query
NAME = "finwattsim"


def require_ipmi_sim() -> tuple[str, str, str]:
    """Return (ipmi_sim, sdrcomp, ipmitool) paths, or skip (fail under CI) without them."""
    simulator, sdrcomp, ipmitool = require_tools(
        "ipmi_sim",
        "sdrcomp",
        "ipmitool",
        reason="IPMI_SIM OR IPMITOOL NOT INSTALLED: the BMC tests need `ipmi_sim`, `sdrcomp` "
        "and `ipmitool` on PATH (Debian: apt-get install openipmi ipmitool)",
    )
    return simulator, sdrcomp, ipmitool


@dataclass
class SimBmc:
    """A running simulator: where it listens and the file that sets its power."""

    port: int
    power_file: Path
    password_file: Path
    pid: int = 0

    def set_power_w(self, watts: int) -> None:
        """Feed a new power figure (even watts: the sensor's resolution is 2 W)."""
        tmp = self.power_file.with_suffix(".tmp")
        tmp.write_text(f"{watts}\n")
        tmp.replace(self.power_file)


@contextmanager
def ipmi_sim(tmp: Path, power_w: int) -> Iterator[SimBmc]:
    """Start `ipmi_sim` on a free UDP port of 127.0.0.1 and stop it afterwards."""
    simulator, sdrcomp, ipmitool = require_ipmi_sim()
    state = tmp / "state" / "ipmi_sim" / NAME
    state.mkdir(parents=True)
    done = subprocess.run(
        [sdrcomp, "-o", str(state / "sdr.20.main"), str(SDRS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    port = free_port(socket.SOCK_DGRAM)
    bmc = SimBmc(port, tmp / "power_w", tmp / "password")
    bmc.set_power_w(power_w)
    bmc.password_file.write_text(PASSWORD + "\n")
    (tmp / "lan.conf").write_text(
        f'name "{NAME}"\nset_working_mc 0x20\n  startlan 1\n'
        f"    addr 127.0.0.1 {port}\n    priv_limit admin\n"
        "    allowed_auths_admin md5 straight\n"
        "    guid a123456789abcdefa123456789abcdef\n  endlan\n"
        f'  user 2 true "{USER}" "{PASSWORD}" admin 10 md5 straight\n'
    )
    (tmp / "sim.emu").write_text(
        "mc_setbmc 0x20\n"
        "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
        f'sensor_add 0x20 0 14 0x03 0x01 poll 20 file "{bmc.power_file}" div=2\n'
        "mc_enable 0x20\n"
    )
    process = subprocess.Popen(
        [simulator, "-c", "lan.conf", "-f", "sim.emu", "-s", str(tmp / "state"), "-n"],
        cwd=tmp,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    bmc.pid = process.pid
    try:
        _wait_ready(ipmitool, bmc, process)
        yield bmc
    finally:
        stop_process(process, timeout_s=5)
        if process.stderr is not None:
            process.stderr.close()


def _wait_ready(ipmitool: str, bmc: SimBmc, process: subprocess.Popen[bytes]) -> None:
    argv = [
        ipmitool, "-I", "lanplus", "-C", str(CIPHER_SUITE), "-H", "127.0.0.1",
        "-p", str(bmc.port), "-U", USER, "-f", str(bmc.password_file), "-N", "1", "-R", "1",
        "mc", "info",
    ]  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"ipmi_sim exited with {process.returncode}: {err}")
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
        if done.returncode == 0:
            return
        time.sleep(0.1)
    pytest.fail("ipmi_sim did not answer `mc info` within 15 s")

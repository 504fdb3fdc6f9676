"""A real single-node Slurm for tests: slurmctld and slurmd from Debian's `slurm-wlm`.

Started in the foreground (`-D`) on free loopback ports with a temporary `slurm.conf`,
state and spool folders, `auth/none` (no munge key to share on one node), as root
(slurmd runs tasks as their users). Tests call `require_slurm()`: without the daemons,
or not root, they skip loudly on a developer machine and fail under CI (`CI` set), where
`.ci/run` installs `slurm-wlm`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pytest

from tests.fakes.tools import free_port, require_tools, stop_process


def require_slurm() -> tuple[str, ...]:
    """Return the paths of slurmctld, slurmd, srun and sinfo, or skip (fail under CI)."""
    tools = require_tools(
        "slurmctld",
        "slurmd",
        "srun",
        "sinfo",
        reason="SLURM NOT INSTALLED: the Slurm tests need Debian's slurm-wlm (slurmctld, "
        "slurmd, srun)",
    )
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the Slurm tests run slurmd, which needs root")
        pytest.skip("SLURM TESTS NEED ROOT: slurmd starts tasks as their users")
    return tools


class Slurm:
    """slurmctld + slurmd on this host, one node of 2 CPUs, partition `debug`."""

    def __init__(self, tmp: Path) -> None:
        self.ctld, self.slurmd, self.srun_path, self.sinfo = require_slurm()
        self.tmp = tmp
        host = socket.gethostname().split(".")[0]
        for folder in ("state", "spool"):
            (tmp / folder).mkdir(parents=True, exist_ok=True)
        lines = [
            "ClusterName=finwatt-test",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "AuthType=auth/none",
            "CredType=cred/none",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={tmp / 'state'}",
            f"SlurmdSpoolDir={tmp / 'spool'}",
            f"SlurmctldPidFile={tmp / 'slurmctld.pid'}",
            f"SlurmdPidFile={tmp / 'slurmd.pid'}",
            f"SlurmctldLogFile={tmp / 'slurmctld.log'}",
            f"SlurmdLogFile={tmp / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "MpiDefault=none",
            "ReturnToService=2",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN",
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf = tmp / "slurm.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Slurm:
        for argv in ([self.ctld, "-D", "-i"], [self.slurmd, "-D"]):
            with (self.tmp / f"{Path(argv[0]).name}.out").open("wb") as out:
                self.processes.append(
                    subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
                )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(
                [self.sinfo, "-h", "-o", "%t"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if state.stdout.strip() == "idle":
                return self
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise AssertionError(
            f"slurm never idle: {(self.tmp / 'slurmctld.log').read_text()[-2000:]}"
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                stop_process(process, timeout_s=15)

    def srun(
        self, *argv: str, account: str, timeout_s: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run one task through srun under `account`; return the finished srun."""
        return subprocess.run(
            [self.srun_path, f"--account={account}", "-N1", "-n1", *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

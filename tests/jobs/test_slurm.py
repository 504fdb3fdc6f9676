"""`finwatt exec` as a Slurm task launcher: each job's energy keyed by job id, user, account.

Against a real single-node Slurm (`tests/jobs/slurm_harness.py`: slurmctld + slurmd from
Debian's slurm-wlm, `srun --account=...`), and against Slurm's documented task
environment (sbatch(1)/srun(1) "OUTPUT ENVIRONMENT VARIABLES") for the cases a real
cluster would not produce (docs/fleet.md#slurm).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from profiler.store.database import Store
from profiler.workflows.slurm import slurm_tags
from tests.fakes.cli import run_finwatt

BURN = str(Path(__file__).with_name("burn.py"))


def slurm_env(job_id: str, user: str, account: str) -> dict[str, str]:
    return {
        "SLURM_JOB_ID": job_id,
        "SLURM_STEP_ID": "0",
        "SLURM_JOB_USER": user,
        "SLURM_JOB_ACCOUNT": account,
        "SLURM_JOB_PARTITION": "batch",
        "SLURM_JOB_NAME": "price",
    }


def test_slurm_tags_come_from_the_task_environment_only_under_slurm() -> None:
    assert slurm_tags({"SLURM_JOB_USER": "alice"}) == {}  # no job id: not a Slurm task
    tags = slurm_tags({**slurm_env("77", "alice", "risk"), "SLURM_JOB_PARTITION": "bad\x1b[2J"})
    assert tags == {"slurm_job_id": "77", "slurm_step_id": "0", "user": "alice", "account": "risk"}


def test_chargeback_by_account_charges_each_slurm_job(tmp_path: Path) -> None:
    db = str(tmp_path / "f.db")
    Store(tmp_path / "f.db").close()
    for job_id, user, account in (
        ("101", "alice", "risk"),
        ("102", "bob", "xva"),
        ("103", "alice", "risk"),
    ):
        done = run_finwatt(
            "exec",
            "--db",
            db,
            "--",
            sys.executable,
            BURN,
            "0.3",
            "1.0",
            env=slurm_env(job_id, user, account),
        )
        assert done.returncode == 0, done.stderr
    # an explicit --tag wins over Slurm's variable
    done = run_finwatt(
        "exec",
        "--db",
        db,
        "--tag",
        "account=desk-fx",
        "--",
        sys.executable,
        BURN,
        "0.2",
        "1.0",
        env=slurm_env("104", "carol", "risk"),
    )
    assert done.returncode == 0, done.stderr

    with Store(Path(db)) as store:
        stored = {job.tags["slurm_job_id"]: job.tags for _, job in store.jobs.since("1970-01-01")}
    assert stored["104"] == {
        "slurm_job_id": "104",
        "slurm_step_id": "0",
        "user": "carol",
        "account": "desk-fx",
        "partition": "batch",
    }
    by_account = run_finwatt("chargeback", "--db", db, "--since", "1h", "--by", "account", "--json")
    assert by_account.returncode == 0, by_account.stderr
    rows = {r["group"]: r for r in json.loads(by_account.stdout)["rows"]}
    assert rows["risk"]["jobs"] == 2 and rows["xva"]["jobs"] == 1 and rows["desk-fx"]["jobs"] == 1
    assert all(rows[a]["energy_j"] > 0 for a in ("risk", "xva", "desk-fx"))
    by_job = run_finwatt(
        "chargeback", "--db", db, "--since", "1h", "--by", "tag:slurm_job_id", "--json"
    )
    job_rows = {r["group"]: r for r in json.loads(by_job.stdout)["rows"]}
    assert {"101", "102", "103", "104"} <= set(job_rows)
    assert rows["risk"]["energy_j"] == job_rows["101"]["energy_j"] + job_rows["103"]["energy_j"]
    by_user = run_finwatt("chargeback", "--db", db, "--since", "1h", "--by", "tag:user", "--json")
    user_rows = {r["group"]: r for r in json.loads(by_user.stdout)["rows"]}
    assert user_rows["alice"]["jobs"] == 2 and user_rows["carol"]["jobs"] == 1


def test_under_a_real_slurm_srun_finwatt_exec_charges_each_account(tmp_path: Path) -> None:
    from tests.fakes.cli import FINWATT
    from tests.jobs.slurm_harness import Slurm

    db = str(tmp_path / "f.db")
    Store(tmp_path / "f.db").close()
    with Slurm(tmp_path / "slurm") as slurm:
        for account, cpu_s in (("risk", "0.4"), ("xva", "0.2"), ("risk", "0.2")):
            task = slurm.srun(
                *FINWATT,
                "exec",
                "--db",
                db,
                "--",
                sys.executable,
                BURN,
                cpu_s,
                "1.0",
                account=account,
            )
            assert task.returncode == 0, task.stderr
    with Store(Path(db)) as store:
        stored = [job.tags for _, job in store.jobs.since("1970-01-01")]
    assert sorted(t["account"] for t in stored) == ["risk", "risk", "xva"]
    assert len({t["slurm_job_id"] for t in stored}) == 3  # one Slurm job each
    assert {t["partition"] for t in stored} == {"debug"} and all(t["user"] for t in stored)
    done = run_finwatt("chargeback", "--db", db, "--since", "1h", "--by", "account", "--json")
    rows = {r["group"]: r for r in json.loads(done.stdout)["rows"]}
    assert rows["risk"]["jobs"] == 2 and rows["xva"]["jobs"] == 1
    assert rows["risk"]["energy_j"] > 0 and rows["xva"]["energy_j"] > 0

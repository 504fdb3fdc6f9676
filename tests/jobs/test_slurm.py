"""`finwatt exec` as a Slurm task launcher: each job's energy keyed by job id, user, account.

Tested against Slurm's documented task environment (sbatch(1)/srun(1) "OUTPUT ENVIRONMENT
VARIABLES": SLURM_JOB_ID, SLURM_JOB_USER, SLURM_JOB_ACCOUNT, SLURM_JOB_PARTITION,
SLURM_STEP_ID), set as slurmstepd sets them; no slurmctld/slurmd runs here (docs/fleet.md#slurm).
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

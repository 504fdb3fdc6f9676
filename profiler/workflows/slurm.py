"""`finwatt exec` under Slurm: the job's id, user and account from Slurm's environment.

Run the job's task through `finwatt exec` (`srun finwatt exec -- ./price.sh` in the batch
script, docs/fleet.md#slurm). Slurm sets `SLURM_JOB_ID`, `SLURM_JOB_USER`,
`SLURM_JOB_ACCOUNT` and `SLURM_JOB_PARTITION` in every task's environment (sbatch(1),
srun(1), "OUTPUT ENVIRONMENT VARIABLES"); `exec` stores them as the tags `slurm_job_id`,
`user`, `account` and `partition` (a `--tag` of the same key wins), so `chargeback --by
account` and `--by tag:slurm_job_id` work on one host, and the exporter's
`finwatt_job_energy_joules{account, user}` across the fleet. `SLURM_STEP_ID`, when set,
is kept as `slurm_step_id`.
"""

from __future__ import annotations

from collections.abc import Mapping

from profiler.model.job import tag_problem

SLURM_TAGS = (
    ("SLURM_JOB_ID", "slurm_job_id"),
    ("SLURM_STEP_ID", "slurm_step_id"),
    ("SLURM_JOB_USER", "user"),
    ("SLURM_JOB_ACCOUNT", "account"),
    ("SLURM_JOB_PARTITION", "partition"),
)


def slurm_tags(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the Slurm tags of this task's environment ({} outside Slurm).

    A value a tag cannot hold (empty, control characters) is left out, never stored.
    """
    if not environ.get("SLURM_JOB_ID"):
        return {}
    return {
        tag: environ[name]
        for name, tag in SLURM_TAGS
        if environ.get(name) and tag_problem(tag, environ[name]) is None
    }

"""`finwatt_job_energy_joules{run, account, user, provenance, tag_*}`: running jobs so far.

One series per `finwatt exec` job running on the host (or ended in the last few
minutes, at its final figure): the job's attributed energy so far, in joules. Fleet
chargeback (`profiler.prometheus.chargeback`) sums each job's figure within the window
by `account`, `user` or a tag. `account` and `user` are the tags of those names (set
from Slurm's environment under Slurm, `profiler.workflows.slurm`), empty when absent;
other tags appear as `tag_<key>` (at most `MAX_TAG_LABELS`, keys that are valid label
names). The series keeps one label set for the job's life (an ended job is not
relabelled), so a job is one series. Check by hand:
`curl -s http://127.0.0.1:9464/metrics | grep finwatt_job_`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.core import Metric

from profiler.model.running_job import RunningJob

METRIC = "finwatt_job_energy_joules"


def job_metrics(jobs: Sequence[RunningJob]) -> Iterable[Metric]:
    """Yield the running-job gauge, when any job runs."""
    if not jobs:
        return
    gauge = Metric(
        METRIC,
        "Attributed energy of a finwatt exec job so far (final once it ended), in joules.",
        "gauge",
    )
    for job in sorted(jobs, key=lambda j: j.run_id):
        labels = {
            "run": job.run_id,
            "account": job.tags.get("account", ""),
            "user": job.tags.get("user", ""),
            "provenance": job.provenance or "",
            **job.label_tags(),
        }
        gauge.add_sample(METRIC, labels, job.energy_j)
    yield gauge

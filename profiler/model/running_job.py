"""A running `finwatt exec` job's energy so far, as the exporter publishes it.

`finwatt exec` writes one small JSON progress file per running job
(`profiler.workflows.job_progress`); `finwatt serve` reads them at each scrape and exports
`finwatt_job_energy_joules` (`profiler.prometheus.running`). A finished job's file stays
a few minutes with its final figure, so the last scrape sees the whole job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LABEL_TAG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
"""Tag keys exported as a `tag_<key>` label (Prometheus label names); others are not."""

MAX_TAG_LABELS = 8
"""Tags exported per job (bounds the label set)."""


@dataclass(frozen=True)
class RunningJob:
    """One job's figures so far.

    Attributes:
        run_id: the job's run.
        started_s: its start, epoch seconds.
        updated_s: when these figures were taken, epoch seconds.
        energy_j: the job's attributed energy so far (dynamic + allocated idle), joules.
        provenance: `attributed:cpu-time(<source>)`, None before any attributed tick.
        tags: its tags (`account`, `user`, `slurm_job_id` under Slurm, plus `--tag`).
        ended: True once the job has ended (its figure is final).
    """

    run_id: str
    started_s: float
    updated_s: float
    energy_j: float
    provenance: str | None
    tags: dict[str, str] = field(default_factory=dict)
    ended: bool = False

    def label_tags(self) -> dict[str, str]:
        """Return the tags exported as labels: `tag_<key>`, at most `MAX_TAG_LABELS`."""
        keys = sorted(k for k in self.tags if LABEL_TAG.match(k))[:MAX_TAG_LABELS]
        return {f"tag_{k}": self.tags[k] for k in keys}

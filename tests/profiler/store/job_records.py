"""One `finwatt exec` job record for the store tests, varied field by field."""

from __future__ import annotations

import dataclasses
from typing import Any

from profiler.model.job import JobRecord


def job_record(run_id: str, **changes: Any) -> JobRecord:
    """Return a job of 1,000 paths in 12.5 s on RAPL (130 J), with `changes` applied.

    Args:
        run_id: the job run's id.
        **changes: fields of `JobRecord` to set instead of the defaults.
    """
    job = JobRecord(
        run_id=run_id,
        command=["var-batch", "--date", "2026-11-27"],
        exit_status=3,
        units=1000.0,
        unit="paths",
        tags={"desk": "rates"},
        seconds=12.5,
        dynamic_j=80.0,
        idle_j=0.0,
        idle_unallocated_j=20.0,
        host_energy_j=130.0,
        idle_share="none",
        provenance="attributed:cpu-time(measured:rapl)",
        cpu_s=11.0,
        gpu_s=None,
        peak_rss_bytes=123456,
        accounting="process-tree",
        details={"devices": {"cpu:0": {"energy_j": 130.0}}},
    )
    return dataclasses.replace(job, **changes)

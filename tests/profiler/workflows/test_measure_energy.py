"""`measure()`'s `energy_j` is the block's own energy as `finwatt exec` defines it.

The host's energy over the window (every device with a power figure) is `host_energy_j`;
`energy_j` is the block's charged energy (its dynamic share by CPU time plus the idle its
policy allocated), the figure `exec` prints as the job's energy (docs/attribution.md#python-api).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import profiler


def _burn() -> None:
    data = b"x" * 4096
    for _ in range(30_000):
        data = hashlib.sha256(data).digest() * 128


@pytest.mark.parametrize("idle_share", ["none", "cpu-time"])
def test_energy_j_is_the_blocks_share_and_host_energy_j_the_devices(
    tmp_path: Path, idle_share: str
) -> None:
    with profiler.measure(
        "share", db=tmp_path / "f.db", interval_s=0.05, idle_share=idle_share
    ) as m:  # type: ignore[arg-type]
        _burn()
    job = m.job
    assert job is not None and job.energy_j is not None
    assert m.energy_j == pytest.approx(job.energy_j)
    devices = [d.energy_j for d in m.devices if d.energy_j is not None]
    assert m.host_energy_j == pytest.approx(sum(devices))
    # the block is one process of the host: its share is never more than the host's energy
    assert 0 < m.energy_j <= m.host_energy_j * 1.01

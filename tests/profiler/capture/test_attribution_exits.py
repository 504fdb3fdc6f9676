"""`monitor --attribute` counts the CPU a process burns after the last tick it was seen at.

A process that exits between two ticks is gone from /proc at the second one; its CPU
time since the first reaches its parent's cumulative children time when the parent
reaps it, and is counted there (docs/attribution.md#short-lived-processes). Real
processes, the real /proc: a three-process tree that ends between two ticks is counted
within a few % of the CPU time `getrusage` gives for it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from profiler.capture.attribution import Attributor
from profiler.model.attribution_rows import AttributionRow
from profiler.model.device import DeviceInfo
from profiler.model.samples import Reading, Tick

DEVICES = [
    DeviceInfo("host", "host", logical_cores=2),
    DeviceInfo("cpu:0", "cpu", provenance="measured:rapl", details={"model_idle_w": 1.0}),
]

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"

ROOT = textwrap.dedent(
    """
    import subprocess, sys
    children = [subprocess.Popen([sys.executable, "-c", sys.argv[1]]) for _ in range(2)]
    exec(sys.argv[2])
    print(*(c.pid for c in children), flush=True)
    for c in children:
        c.wait()
    """
)

PARENT = textwrap.dedent(
    """
    import resource, subprocess, sys
    root = subprocess.Popen(
        [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]],
        stdout=subprocess.PIPE, text=True,
    )
    children = root.communicate()[0].strip()
    tree = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = tree.ru_utime + tree.ru_stime + own.ru_utime + own.ru_stime
    print(root.pid, children, cpu_s, flush=True)
    sys.stdin.readline()  # alive at the next tick, until the test is done
    """
)


def _tick(index: int, t: float) -> Tick:
    return Tick(index, t, {"cpu:0": Reading("cpu:0", energy_j=10.0 * t)}, 0)


@pytest.mark.parametrize("first_tick_after_s", [0.0, 0.5])
def test_a_tree_ending_between_ticks_is_counted_at_its_real_cpu_time(
    first_tick_after_s: float,
) -> None:
    rows: list[AttributionRow] = []
    att = Attributor(DEVICES, top_n=100, row_sink=rows.extend)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, ROOT, BURN.format(s=0.4), BURN.format(s=0.2)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(first_tick_after_s)
        att.observe(_tick(1, 1.0))  # the tree is starting or running: seen, or not yet
        assert parent.stdout is not None
        *children, cpu_text = parent.stdout.readline().split()  # the tree has ended
        att.observe(_tick(2, 2.0))
        att.flush()
    finally:
        parent.communicate("done\n", timeout=30)
    ours = {str(parent.pid), *children}
    counted_s = sum(
        r.cpu_s
        for r in rows
        if r.group_kind == "process" and r.group_name.rpartition("[")[2].rstrip("]") in ours
    )
    real_s = float(cpu_text)
    assert real_s > 0.9
    assert counted_s == pytest.approx(real_s, rel=0.03, abs=0.04)

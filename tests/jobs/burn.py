"""A CPU burner for the job tests: burn CPU_S seconds of CPU at DUTY of one core, then exit.

`python burn.py CPU_S DUTY [READY_FILE]`: busy 50-ms slices of CPU time, each followed by a
sleep so that the busy share of wall time is DUTY; writes READY_FILE (if given) first.
Counting CPU time, not wall time, keeps the total fixed on a busy machine.
"""

import sys
import time
from pathlib import Path

cpu_s, duty = float(sys.argv[1]), float(sys.argv[2])
if len(sys.argv) > 3:
    Path(sys.argv[3]).write_text("ready", encoding="utf-8")
start = time.process_time()
while time.process_time() - start < cpu_s:
    slice_start = time.process_time()
    while time.process_time() - slice_start < 0.05:
        pass
    if duty < 1.0:
        time.sleep(0.05 * (1.0 - duty) / duty)

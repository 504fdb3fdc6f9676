#!/usr/bin/env bash
# GPU validation for a lent NVIDIA machine (not CI). Runs `finwatt doctor --json` and a 20 s
# `finwatt monitor` at 0.1 s while a matmul loop loads the GPU for 10 s (from t=4 s), and,
# over the same window, finwatt's NVML sensor on its own (counter energy vs integrated
# power, methodology section 1), nvidia-smi's energy counter and nvidia-smi power samples.
# Outputs go to $OUT (or a temp dir). Record the summary in docs/gpu-validation.md.
#   usage: bench/gpu_check.sh        env: PYTHON, FINWATT, OUT
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
FINWATT=${FINWATT:-$([ -x .venv/bin/finwatt ] && echo .venv/bin/finwatt || echo finwatt)}
OUT=${OUT:-$(mktemp -d)}
export FINWATT_DB="$OUT/finwatt.db" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
WINDOW_S=20 LOAD_DELAY_S=4 LOAD_S=10

echo "== card: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)   out: $OUT"

echo "== finwatt doctor --json"
timeout 60 "$FINWATT" doctor --json | tee "$OUT/doctor.json"

energy_smi() { nvidia-smi --query-gpu=index,energy.consumption --format=csv,noheader \
  || echo "n/a"; }
energy_smi >"$OUT/smi_energy_before.csv"

# nvidia-smi power samples every 500 ms over the window.
timeout $((WINDOW_S + 2)) nvidia-smi --query-gpu=timestamp,index,power.draw \
  --format=csv -lms 500 >"$OUT/smi_power.csv" 2>&1 &
smi_pid=$!

# finwatt's NVML sensor alone, at 0.1 s, over the same window.
timeout $((WINDOW_S + 15)) "$PYTHON" - "$WINDOW_S" >"$OUT/nvml_direct.jsonl" <<'PY' &
import json, sys, time
from profiler.sensors.nvml import NvmlSensors, energy_disagreement
window_s, interval_s = float(sys.argv[1]), 0.1
sensors = NvmlSensors()
print(sensors.availability(), file=sys.stderr)
t0 = time.monotonic()
sensors.start(t0)
readings, k = [], 1
while t0 + k * interval_s <= t0 + window_s:
    time.sleep(max(0.0, t0 + k * interval_s - time.monotonic()))
    readings = sensors.read(time.monotonic())
    k += 1
for r in readings:
    print(json.dumps({"device": r.device_id, "status": str(r.status), "ticks": k - 1,
                      "counter_j": r.energy_j, "power_integrated_j": r.energy_from_power_j,
                      "disagreement": energy_disagreement(r.energy_j, r.energy_from_power_j)}))
sensors.close()
PY
direct_pid=$!

# GPU load: matmuls for LOAD_S seconds, after LOAD_DELAY_S of idle.
( sleep "$LOAD_DELAY_S"; timeout $((LOAD_S + 60)) "$PYTHON" - "$LOAD_S" <<'PY' ) &
import sys, time
seconds = float(sys.argv[1])
try:
    import torch
    if not torch.cuda.is_available():
        raise RuntimeError("torch without CUDA")
    a = torch.randn(8192, 8192, device="cuda")
    lib, mul, sync = "torch", torch.matmul, torch.cuda.synchronize
except (ImportError, OSError, RuntimeError):
    import cupy as cp
    a = cp.random.standard_normal((8192, 8192), dtype=cp.float32)
    lib, mul, sync = "cupy", cp.matmul, cp.cuda.Device().synchronize
b, n = a.T.copy(), 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(10):
        mul(a, b)
    sync()
    n += 10
print(f"== load: {lib}, {n} fp32 8192^2 matmuls in {seconds:.0f} s", file=sys.stderr)
PY
load_pid=$!

echo "== finwatt monitor --duration ${WINDOW_S}s --interval 0.1s --json"
timeout $((WINDOW_S + 30)) "$FINWATT" monitor --duration "${WINDOW_S}s" --interval 0.1s --json \
  | tee "$OUT/monitor.json"

wait "$load_pid" || echo "!! GPU load failed (neither torch nor cupy with CUDA?)"
wait "$direct_pid" || echo "!! direct NVML sampling failed"
wait "$smi_pid" || true  # timeout ends the nvidia-smi loop with 124 by design
energy_smi >"$OUT/smi_energy_after.csv"

echo "== comparison"
"$PYTHON" - "$OUT" "$WINDOW_S" <<'PY'
import csv, json, pathlib, sys
out, window_s = pathlib.Path(sys.argv[1]), float(sys.argv[2])
for d in json.loads((out / "monitor.json").read_text())["devices"]:
    if d["kind"] == "gpu":
        print(f"finwatt monitor {d['device']}: {d['energy_j']} J, mean {d['mean_power_w']} W,"
              f" util mean {d['util_mean']} p95 {d['util_p95']}, {d['samples']} samples,"
              f" {d['provenance']}")
for line in (out / "nvml_direct.jsonl").read_text().splitlines():
    r = json.loads(line)
    dis = "n/a" if r["disagreement"] is None else f"{r['disagreement']:+.1%}"
    print(f"NVML direct {r['device']}: counter {r['counter_j']} J vs integrated power"
          f" {r['power_integrated_j']} J (disagreement {dis}, {r['ticks']} ticks, {r['status']})")
def energies(name):
    rows = csv.reader((out / name).open(), skipinitialspace=True)
    return {r[0]: r[1] for r in rows if len(r) == 2}
def joules(field):  # nvidia-smi keeps the unit in the field, e.g. "123456 mJ"
    value, unit = field.split()
    return float(value) * {"mJ": 1e-3, "J": 1.0, "kJ": 1e3}[unit]
before, after = energies("smi_energy_before.csv"), energies("smi_energy_after.csv")
for idx in after:
    try:
        print(f"nvidia-smi energy.consumption gpu:{idx}: {joules(after[idx]) - joules(before[idx]):.1f} J"
              " (spans the whole script, a little more than the window)")
    except (KeyError, ValueError):  # n/a, [N/A] or [Not Supported]
        print(f"nvidia-smi energy.consumption gpu:{idx}: n/a")
rows = [r for r in csv.reader((out / "smi_power.csv").open(), skipinitialspace=True)][1:]
watts = [float(r[2].split()[0]) for r in rows if len(r) > 2 and r[2].split()[0][0].isdigit()]
if watts:
    print(f"nvidia-smi power.draw: {len(watts)} samples, mean {sum(watts) / len(watts):.1f} W,"
          f" max {max(watts):.1f} W; about {sum(watts) / len(watts) * window_s:.0f} J over {window_s:.0f} s")
PY
echo "== nvidia-smi power.draw samples"
cat "$OUT/smi_power.csv"

#!/usr/bin/env bash
# GPU validation on a lent NVIDIA host (not CI): one prepared script, at most 8 minutes.
#
# The validation host reaches no package registry. Its Python 3.12 has torch, cupy,
# nvidia-ml-py, numpy, psutil, rich, typer, prometheus-client, jinja2, matplotlib and
# pandas, but not codecarbon, tomlkit, croniter or pydantic. So first, here:
#     bench/wheelhouse.sh            # wheels of what the host lacks, into wheelhouse/
# then carry wheelhouse/ with the tree (device tool: carry ["wheelhouse"]) and run this.
# It installs finwatt with `pip install --no-index --find-links wheelhouse -e .` into a
# venv that also sees the host's packages, so the host's torch and CuPy are the ones used.
#
# Stages, each bounded by `timeout` and by the script's 8-minute deadline:
#   1-2  environment and NVML facts         -> facts.json       (bench/gpu_facts.py)
#   3    finwatt doctor --json              -> doctor.json
#   4    energy cross-check, scripted load  -> crosscheck.json, crosscheck.png
#                                              (bench/gpu_crosscheck.py, bench/gpu_load.py)
#   5    finwatt run --device gpu --quick   -> run.json         (checked in summary.md)
#   6    correctness vs the CPU             -> correctness.json (bench/gpu_correctness.py)
#        summary.md (bench/gpu_summary.py) and check.log (all output): 8 files in $OUT.
# Record summary.md, the date and the card in docs/gpu-validation.md.
#
#   usage: bench/gpu_check.sh
#   env:   OUT (gpu-check-out)  WHEELHOUSE (wheelhouse)  PYTHON (python3)
#          VENV (/tmp/finwatt-gpu-venv)  SKIP_INSTALL=1: use $PYTHON as it is
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
exec > >(tee "$OUT/check.log") 2>&1

START=$(date +%s)
DEADLINE=$((START + 470))  # 8 minutes, less time for the summary
PYTHON=${PYTHON:-python3}
WHEELHOUSE=${WHEELHOUSE:-$ROOT/wheelhouse}
VENV=${VENV:-/tmp/finwatt-gpu-venv}
FINWATT_DB="$(mktemp -d)/finwatt.db"
export FINWATT_DB PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

stage() { echo; echo "== [$(($(date +%s) - START)) s] $*"; }
# Seconds a stage may take: its own cap, or what is left before the deadline.
budget() { local left=$((DEADLINE - $(date +%s))); echo $((left < $1 ? (left > 5 ? left : 5) : $1)); }

stage "card: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  out: $OUT  python: $($PYTHON -V 2>&1)"

install_finwatt() {
  if [ "${SKIP_INSTALL:-0}" = 1 ]; then FW_PY=$PYTHON; return; fi
  [ -d "$WHEELHOUSE" ] || echo "!! no wheelhouse at $WHEELHOUSE (build it with bench/wheelhouse.sh)"
  # --without-pip: no ensurepip needed; the host's pip is reached through the .pth below.
  if ! "$PYTHON" -m venv --system-site-packages --without-pip "$VENV"; then
    echo "!! no venv; installing the wheels into /tmp/finwatt-site instead"
    "$PYTHON" -m pip install -q --no-index --no-deps --target /tmp/finwatt-site "$WHEELHOUSE"/*.whl
    export PYTHONPATH="/tmp/finwatt-site:$PYTHONPATH"
    FW_PY=$PYTHON
    return
  fi
  # A venv made from a venv sees only the base interpreter's packages; the host's python3
  # is itself a venv holding torch and CuPy, so its site-packages are added by a .pth.
  local purelib
  purelib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$PYTHON" -c 'import site; print("\n".join(site.getsitepackages()))' >"$purelib/_host_site.pth"
  if ! "$VENV/bin/python" -m pip install -q --no-index --find-links "$WHEELHOUSE" -e "$ROOT"; then
    echo "!! the resolver refused; installing the wheelhouse and finwatt without dependencies"
    "$VENV/bin/python" -m pip install -q --no-index --no-deps "$WHEELHOUSE"/*.whl
    "$VENV/bin/python" -m pip install -q --no-index --no-deps --no-build-isolation -e "$ROOT"
  fi
  "$VENV/bin/python" -m pip check || echo "(pip check: see above; the stages go on)"
  FW_PY="$VENV/bin/python"
}

stage "install finwatt from the wheelhouse"
FW_PY=$PYTHON
install_finwatt || echo "!! install failed; the stages run with $FW_PY as it is"
FINWATT="$FW_PY -m profiler"
$FW_PY -c 'import profiler, workloads, pynvml; print("finwatt importable; pynvml", pynvml.__file__)'

stage "1-2 environment and NVML facts"
timeout "$(budget 60)" $FW_PY -m bench.gpu_facts --out "$OUT" || echo "!! facts failed ($?)"

stage "3 finwatt doctor --json"
timeout "$(budget 45)" $FINWATT doctor --json >"$OUT/doctor.json" || echo "!! doctor failed ($?)"
cat "$OUT/doctor.json"

stage "4 energy cross-check: idle, full, idle, 50 % duty, idle"
timeout "$(budget 100)" $FW_PY -m bench.gpu_crosscheck --out "$OUT" --finwatt "$FINWATT" \
  || echo "!! cross-check failed ($?)"

stage "5 finwatt run --device gpu --quick --json"
timeout "$(budget 210)" $FINWATT run --device gpu --quick --json >"$OUT/run.json" \
  || echo "!! run failed ($?)"
head -c 4000 "$OUT/run.json"; echo

stage "6 correctness vs the CPU"
timeout "$(budget 100)" $FW_PY -m bench.gpu_correctness --out "$OUT" || echo "!! correctness failed ($?)"

stage "summary"
timeout 20 $FW_PY -m bench.gpu_summary --out "$OUT" || echo "!! summary failed"
stage "done in $(($(date +%s) - START)) s; files in $OUT:"
ls -l "$OUT"
